import { Readable } from 'node:stream';
import type { FastifyReply } from 'fastify';
import { Type } from 'typebox';
import { EXPORT_FORMATS, type ExportFile } from '../audit/export.js';
import { StringEnum } from './schemas.js';

/** The `format` query parameter of an export route: csv (RFC 4180) or jsonl (JSON Lines). */
export const ExportFormatParam = { format: StringEnum(EXPORT_FORMATS) };

/** The 200 response of an export route, for the OpenAPI document. */
export const ExportFileResponse = {
  description: 'The file (Content-Disposition: attachment)',
  content: { 'text/csv': { schema: Type.String() }, 'application/x-ndjson': { schema: Type.String() } },
};

/** Streams an export as an attachment, never cached. */
export function sendExportFile(reply: FastifyReply, file: ExportFile): FastifyReply {
  return reply
    .header('content-type', file.contentType)
    .header('content-disposition', `attachment; filename="${file.filename}"`)
    .header('cache-control', 'no-store')
    .send(Readable.from(file.chunks));
}
