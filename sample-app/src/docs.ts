import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { createAuthOpenApiDocument } from '@democrai/nest-auth/swagger';

/** Swagger UI at /docs, the JSON at /docs-json; security from the route policy (the lock on private routes only). */
export function setupDocs(app: INestApplication): void {
  const config = new DocumentBuilder().setTitle('nest-auth sample').setDescription('The sample app of @democrai/nest-auth').setVersion('1').build();
  // A factory: the document is built on the first request, when every route is known.
  SwaggerModule.setup('docs', app, () => createAuthOpenApiDocument(app, config), { jsonDocumentUrl: 'docs-json' });
}
