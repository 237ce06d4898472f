// The sample page: the session lives in httpOnly cookies the script never sees. It reads only the CSRF
// cookie and sends it back in the x-csrf-token header on every change. When the access cookie has
// expired, one refresh runs (shared by every call waiting for it) and the call is retried once.
const CSRF_COOKIE = '__Host-csrf';
const CSRF_HEADER = 'x-csrf-token';
const $ = (id) => document.getElementById(id);
let csrfToken = null;
let refreshing = null;
window.__auth = { refreshes: 0 };

function csrfFromCookie() {
  for (const part of document.cookie.split(';')) {
    const [name, ...rest] = part.trim().split('=');
    if (name === CSRF_COOKIE) return decodeURIComponent(rest.join('='));
  }
  return null;
}

async function send(method, path, body) {
  const headers = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const token = csrfFromCookie() ?? csrfToken;
  if (method !== 'GET' && token) headers[CSRF_HEADER] = token;
  const res = await fetch(path, { method, headers, credentials: 'same-origin', body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = { message: text };
  }
  return { status: res.status, data };
}

function refreshOnce() {
  refreshing ??= send('POST', '/auth/refresh').then((r) => {
    refreshing = null;
    if (r.status === 200) {
      window.__auth.refreshes++;
      if (r.data?.csrfToken) csrfToken = r.data.csrfToken;
      return true;
    }
    return false;
  });
  return refreshing;
}

/** A call that survives an expired access token: refresh once, retry once. */
async function api(method, path, body) {
  const first = await send(method, path, body);
  const code = first.data?.code;
  if (first.status === 401 && (code === 'token_expired' || code === 'token_missing')) {
    if (await refreshOnce()) return send(method, path, body);
    showSignedOut('Your session has ended: sign in again.');
  } else if (first.status === 401 && code === 'token_revoked') {
    showSignedOut('Your session has ended: sign in again.');
  }
  return first;
}

function showSignedOut(message = '') {
  csrfToken = null;
  $('signed-in').hidden = true;
  $('signed-out').hidden = false;
  $('who').textContent = 'Not signed in';
  $('who').dataset.state = 'signed-out';
  $('error').textContent = message;
}

async function showSignedIn() {
  const me = await api('GET', '/me');
  if (me.status !== 200) return showSignedOut(me.status === 401 ? '' : me.data?.message);
  $('who').textContent = `Signed in as ${me.data.username}` + (me.data.permissions.length ? ` (${me.data.permissions.join(', ')})` : '');
  $('who').dataset.state = 'signed-in';
  $('who').dataset.user = me.data.username;
  $('signed-out').hidden = true;
  $('signed-in').hidden = false;
  $('error').textContent = '';
  await Promise.all([loadArticles(), loadSessions()]);
}

function item(text, cls) {
  const li = document.createElement('li');
  li.textContent = text;
  if (cls) li.className = cls;
  return li;
}

async function loadArticles() {
  const r = await api('GET', '/articles');
  const list = $('articles');
  list.replaceChildren();
  if (r.status !== 200) return list.append(item(`${r.status} ${r.data?.code ?? ''}`, 'denied'));
  for (const a of r.data) list.append(item(`#${a.id} ${a.title}`));
  list.dataset.loadedAt = String(Date.now());
}

async function loadSessions() {
  const r = await api('GET', '/auth/sessions');
  const list = $('sessions');
  list.replaceChildren();
  if (r.status !== 200) return;
  for (const s of r.data) {
    const li = item(
      `${s.current ? 'this browser' : 'other'} · since ${new Date(s.createdAt).toLocaleString()} · ${s.userAgent ?? ''}`.slice(0, 120),
      s.current ? 'current' : '',
    );
    if (!s.current) {
      const end = document.createElement('button');
      end.textContent = 'End';
      end.onclick = async () => {
        await api('DELETE', `/auth/sessions/${encodeURIComponent(s.id)}`);
        loadSessions();
      };
      li.append(' ', end);
    }
    list.append(li);
  }
  list.dataset.count = String(r.data.length);
}

$('login-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const r = await send('POST', '/auth/login', { username: $('username').value, password: $('password').value });
  if (r.status !== 200) return showSignedOut(r.data?.message ?? 'Sign-in failed');
  csrfToken = r.data.csrfToken;
  $('password').value = '';
  await showSignedIn();
});

$('article-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const r = await api('POST', '/articles', { title: $('article-title').value });
  const out = $('article-result');
  out.dataset.status = String(r.status);
  if (r.status === 201 || r.status === 200) {
    out.textContent = `Created #${r.data.id} “${r.data.title}” by ${r.data.author}`;
    out.className = 'ok';
  } else {
    out.textContent = `${r.status}: ${r.data?.message ?? ''} (${r.data?.code ?? 'error'})`;
    out.className = 'denied';
  }
});

$('reload-articles').addEventListener('click', () => loadArticles());

$('logout').addEventListener('click', async () => {
  await api('POST', '/auth/logout');
  showSignedOut('Signed out.');
});

$('logout-all').addEventListener('click', async () => {
  await api('POST', '/auth/logout-all');
  showSignedOut('Signed out everywhere.');
});

showSignedIn();
