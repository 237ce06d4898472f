import { Controller, Get, Header, NotFoundException } from '@nestjs/common';
import { Public } from '@democrai/nest-auth';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** sample-app/public, from the sources (sample-app/src) or from the build (dist-sample). */
const PUBLIC_DIR = [new URL('../public/', import.meta.url), new URL('../sample-app/public/', import.meta.url)]
  .map((u) => fileURLToPath(u))
  .find((dir) => existsSync(dir + 'index.html'));

/** The demo page: static HTML and one script, no front-end build. */
@Controller()
export class PageController {
  @Public()
  @Get()
  @Header('content-type', 'text/html; charset=utf-8')
  // The page runs only its own script: an injected one could not load or run inline.
  @Header('content-security-policy', "default-src 'self'; script-src 'self'; style-src 'self'; frame-ancestors 'none'")
  index(): string {
    return read('index.html');
  }

  @Public()
  @Get('static/app.js')
  @Header('content-type', 'text/javascript; charset=utf-8')
  script(): string {
    return read('app.js');
  }

  @Public()
  @Get('static/style.css')
  @Header('content-type', 'text/css; charset=utf-8')
  style(): string {
    return read('style.css');
  }
}

function read(file: string): string {
  if (PUBLIC_DIR === undefined) throw new NotFoundException('sample-app/public is missing');
  return readFileSync(PUBLIC_DIR + file, 'utf8');
}
