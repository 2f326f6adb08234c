import type { FastifyInstance } from 'fastify';
import type { Db } from '../../db/db.js';
import type { Config } from '../../config.js';
import { findTenantBySlug } from '../../tenancy/tenants.js';
import { findConnection, spUrls } from '../connections.js';
import { spMetadataXml } from './metadata.js';

/** Public SAML endpoints per connection: /t/{tenant}/saml/{conn}/… (the metadata URL is the SP entity ID). */
export function installSamlRoutes(app: FastifyInstance, db: Db, config: Config): void {
  app.get<{ Params: { tenant: string; conn: string } }>('/t/:tenant/saml/:conn/metadata', async (request, reply) => {
    const tenant = await findTenantBySlug(db, request.params.tenant);
    const conn = tenant ? await findConnection(db, tenant.id, request.params.conn) : null;
    if (!tenant || !conn || conn.protocol !== 'saml') {
      return reply.code(404).type('text/plain; charset=utf-8').send('No such SAML connection.');
    }
    return reply
      .type('application/samlmetadata+xml; charset=utf-8')
      .header('Content-Disposition', `inline; filename="keydesk-${tenant.slug}-${conn.slug}-metadata.xml"`)
      .send(spMetadataXml(spUrls(config.publicUrl, tenant.slug, conn.slug)));
  });
}
