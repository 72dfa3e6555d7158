import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { OpenAPIObject } from '@nestjs/swagger';

/**
 * A known path asked with a method it does not serve gets 405 with `Allow`, not 404:
 * the client got the method wrong, not the address. Paths come from the OpenAPI
 * document, so the two cannot drift apart.
 */
export function answerMethodNotAllowed(app: NestFastifyApplication, document: OpenAPIObject): void {
  const routes = Object.entries(document.paths).map(([path, item]) => {
    const methods = Object.keys(item).map((m) => m.toUpperCase());
    if (methods.includes('GET')) methods.push('HEAD');
    const pattern = new RegExp(`^${path.replace(/\{[^}]+\}/g, '[^/]+')}/?$`);
    return { pattern, methods };
  });
  app.getHttpAdapter().getInstance().addHook('onRequest', async (request, reply) => {
    const path = request.url.split('?')[0];
    const route = routes.find((r) => r.pattern.test(path));
    if (route === undefined || route.methods.includes(request.method)) return;
    await reply
      .code(405)
      .header('allow', route.methods.join(', '))
      .header('x-should-retry', 'false')
      .send({ code: 'METHOD_NOT_ALLOWED', message: `${request.method} is not supported here; use ${route.methods.join(', ')}.` });
  });
}
