#!/usr/bin/env bash
# The repository's own suites on Nest 11 (11.2.x): a copy of the work tree in a temp folder, its node_modules
# hard-linked (copied where links cannot cross file systems), the @nestjs packages of Nest 11 installed over it
# with --no-save (the repository's lockfile stays on Nest 12), then the type-check and every suite that Nest 11
# supports. Not run: the transport suites but GraphQL's (their gateways rely on the global guard, which Nest 11 does
# not run on gateways, README "Install" says more; Nest 11's NATS transport loads another package), the
# browser suite (nothing there depends on the Nest major) and the consumer suites (they install Nest 11 themselves).
# Then @nestjs/websockets 11 over the same copy, and the gateway check on it: an app whose gateway lacks the module's
# guard fails the boot, and one with @UseGuards(NestAuthGuard) on the class refuses a missing token and a lacking
# permission (test/transports/gateway-guards.e2e.spec.ts; the same spec runs in the normal suite on Nest 12).
# Run by .ci/run (the database URLs come from there).
set -euo pipefail
cd "$(dirname "$0")/../.."

dir=$(mktemp -d "${TMPDIR:-/tmp}/nest-auth-nest11-XXXXXX")
trap 'rm -rf "$dir"' EXIT
tar --exclude=./node_modules --exclude=./.git --exclude='./dist*' -cf - . | tar -xf - -C "$dir"
cp -al node_modules "$dir/" 2>/dev/null || cp -a node_modules "$dir/"
cd "$dir"

# --legacy-peer-deps: the tree also holds Nest 12-only packages (gateways, microservices) that these suites do not load.
nest11=(@nestjs/common@~11.2.0 @nestjs/core@~11.2.0 @nestjs/platform-express@~11.2.0 @nestjs/platform-fastify@~11.2.0
  @nestjs/testing@~11.2.0 @nestjs/swagger@^11.0.0 @nestjs/passport@^11.0.0 @nestjs/typeorm@^11.0.0
  @nestjs/graphql@^13.0.0 @nestjs/apollo@^13.0.0 @nestjs/jwt@^11.0.0)
npm install --no-save --prefer-offline --no-audit --no-fund --loglevel=error --legacy-peer-deps "${nest11[@]}"
node -e 'const v = require("@nestjs/core/package.json").version; if (!v.startsWith("11.")) { console.error("nest11: @nestjs/core is " + v); process.exit(1); } console.log("nest11: the suites on @nestjs/core " + v);'
npx tsc -p tsconfig.test.json
# The core suites (what an app's HTTP and GraphQL paths go through, cookies, Swagger, the testing kit, API keys in
# the store), not every suite: the whole run takes as long again as the Nest 12 one, and the suites left out
# (databases' layouts, channels, the verifier's vectors) do not touch what differs between majors. The matrix and
# the configured-keys suite load socket.io gateways (@nestjs/websockets 12 here cannot load on @nestjs/common 11).
NODE_OPTIONS=--experimental-vm-modules npx jest test/e2e test/edges test/cookies test/swagger test/testing \
  test/permissions test/isolation/session-callers.e2e.spec.ts test/transports/graphql.e2e.spec.ts \
  test/api-keys/api-keys.db.spec.ts

# Last, so the suites above keep the tree they ran on (the sample app's gateway places no guard of its own).
# (--no-save: npm reifies from the lockfile again, so the Nest 11 packages are named again.)
npm install --no-save --prefer-offline --no-audit --no-fund --loglevel=error --legacy-peer-deps "${nest11[@]}" \
  @nestjs/websockets@~11.2.0 @nestjs/platform-socket.io@~11.2.0 @nestjs/platform-ws@~11.2.0
node -e 'for (const p of ["core", "websockets"]) { const v = require(`@nestjs/${p}/package.json`).version; if (!v.startsWith("11.")) { console.error(`nest11: @nestjs/${p} is ${v}`); process.exit(1); } } console.log("nest11: the gateway check on @nestjs/websockets " + require("@nestjs/websockets/package.json").version);'
NODE_OPTIONS=--experimental-vm-modules npx jest test/transports/gateway-guards.e2e.spec.ts
