import type { INestApplication } from '@nestjs/common';

/**
 * Connects the NATS microservice when NATS_URL is set (started by `app.startAllMicroservices()`);
 * the HTTP app needs nothing of it otherwise, and @nestjs/microservices is loaded only then.
 */
export async function connectNats(app: INestApplication): Promise<void> {
  const url = process.env.NATS_URL;
  if (!url) return;
  const { Transport } = await import('@nestjs/microservices');
  // inheritAppConfig: the message handlers get the app's global guard and request-context interceptor.
  app.connectMicroservice({ transport: Transport.NATS, options: { servers: [url] } }, { inheritAppConfig: true });
}
