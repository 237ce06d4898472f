// Folder boundaries of src/, checked by `npm run lint` (dependency-cruiser). Three rules:
//  (a) no folder cycle: two folders that import each other (directly or round a longer loop) are one concern
//      split in two, and neither can be read, tested or changed alone;
//  (b) layers: a folder only imports folders of its own layer or below, so the low parts (errors, the per-call
//      object, store helpers) never learn about the features built on them;
//  (c) the optional subpaths (/transports, /swagger, /testing) are imported by nothing in the core: an app that
//      does not use them does not load them (their peers are optional).
// Type-only imports count: a folder that needs another's types depends on it as much as on its values.
// Violations that existed when the rules came in are listed in .dependency-cruiser-known-violations.json
// (`--ignore-known`); new ones fail. Delete that file once the folders are untangled.

/**
 * The layers, lowest first. A folder absent from every layer is an error of this file (the rule `unlayered-folder`
 * below names it): a new folder has to be placed.
 */
const LAYERS = [
  ['errors', 'clock', 'auth.constants.ts'],
  ['call', 'persistence', 'option-schema', 'key-derivation'],
  ['context', 'audit', 'tokens', 'users'],
  ['cookies', 'credentials', 'decorators', 'authorization'],
  ['revocation', 'sessions', 'throttle', 'api-keys', 'issuers', 'dpop'],
  ['store', 'migrations', 'authentication', 'login'],
  ['options'],
  ['auth.service.ts'],
  ['guard', 'jwks', 'passport'],
  ['auth.module.ts'],
  ['index.ts'],
];

/** The optional subpaths: above every layer, and never imported by a layer. */
const OPTIONAL = ['transports', 'swagger', 'testing'];

const escape = (name) => name.replace(/[.]/g, '\\.');
/** `src/<folder>/…` for a folder, `src/<file>` for a top-level file. */
const paths = (names) => `^src/(${names.map((n) => (n.endsWith('.ts') ? `${escape(n)}$` : `${escape(n)}/`)).join('|')})`;

const layerRules = LAYERS.slice(0, -1).map((layer, i) => ({
  name: `layer-${i}-imports-higher`,
  comment: `${layer.join(', ')} (layer ${i}) may not import a higher layer: ${LAYERS.slice(i + 1)
    .map((l) => l.join(', '))
    .join(' | ')}`,
  severity: 'error',
  from: { path: paths(layer) },
  to: { path: paths(LAYERS.slice(i + 1).flat()) },
}));

module.exports = {
  forbidden: [
    {
      name: 'folder-cycle',
      comment: 'Folders of src/ that import each other (directly or round a loop): one concern split in two.',
      severity: 'error',
      scope: 'folder',
      from: { path: '^src/[^/]+$' },
      to: { circular: true },
    },
    ...layerRules,
    {
      name: 'core-imports-optional-subpath',
      comment: `The core may not import the optional subpaths (${OPTIONAL.join(', ')}): apps without them must not load them.`,
      severity: 'error',
      from: { path: '^src/', pathNot: paths(OPTIONAL) },
      to: { path: paths(OPTIONAL) },
    },
    {
      name: 'unlayered-folder',
      comment: 'Every folder and top-level file of src/ belongs to a layer (or is an optional subpath): place it in .dependency-cruiser.cjs.',
      severity: 'error',
      from: { path: '^src/', pathNot: paths([...LAYERS.flat(), ...OPTIONAL]) },
      to: {},
    },
  ],
  options: {
    includeOnly: '^src/',
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js', '.mjs', '.cjs', '.d.ts'] },
  },
};
