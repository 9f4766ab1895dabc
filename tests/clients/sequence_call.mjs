// Runs calls through the official Sequence indexer client (@0xsequence/indexer), unchanged.
// stdin: {"package": ".../dist/index.js", "url": ..., "key": ..., "calls": [{method, request}]}
// stdout: one {"result": ...} or {"error": {...}} per call, as a JSON array.
import { pathToFileURL } from 'node:url';

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const input = JSON.parse(Buffer.concat(chunks).toString('utf8'));
const { SequenceIndexerGateway } = await import(pathToFileURL(input.package).href);
const client = new SequenceIndexerGateway(input.url, input.key ?? undefined);
const out = [];
for (const { method, request } of input.calls) {
  try {
    // Methods without arguments (ping, version, runtimeStatus) take only headers.
    const result = request === null ? await client[method]() : await client[method](request);
    out.push({ result });
  } catch (e) {
    out.push({ error: { name: e.name, code: e.code, status: e.status, message: e.message, cause: e.cause } });
  }
}
process.stdout.write(JSON.stringify(out));
