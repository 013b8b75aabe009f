/**
 * A loopback OTLP/HTTP trace receiver for tests: accepts POST /v1/traces as http/json or
 * http/protobuf, decodes each request into resources and spans, and answers 200 as a collector
 * does. The protobuf side walks the wire format itself (only the fields tests read).
 */
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export type AttrValue = string | number | boolean | null;

export interface ReceivedSpan {
  readonly traceId: string;
  readonly spanId: string;
  readonly name: string;
  readonly attributes: Record<string, AttrValue>;
  readonly resource: Record<string, AttrValue>;
}

export interface ReceivedRequest {
  readonly path: string;
  readonly contentType: string;
}

export interface OtlpCollector {
  /** http://127.0.0.1:port, for OTEL_EXPORTER_OTLP_ENDPOINT. */
  readonly endpoint: string;
  readonly requests: ReceivedRequest[];
  readonly spans: ReceivedSpan[];
  close(): Promise<void>;
}

// ---- protobuf wire format ----

interface Field {
  no: number;
  wire: number;
  /** varint/fixed as bigint, length-delimited as bytes. */
  value: bigint | Buffer;
}

function fields(buf: Buffer): Field[] {
  const out: Field[] = [];
  let i = 0;
  const varint = (): bigint => {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      const b = buf[i++];
      result |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return result;
      shift += 7n;
    }
  };
  while (i < buf.length) {
    const tag = Number(varint());
    const no = tag >>> 3;
    const wire = tag & 7;
    if (wire === 0) out.push({ no, wire, value: varint() });
    else if (wire === 1) {
      out.push({ no, wire, value: buf.readBigUInt64LE(i) });
      i += 8;
    } else if (wire === 2) {
      const len = Number(varint());
      out.push({ no, wire, value: buf.subarray(i, i + len) });
      i += len;
    } else if (wire === 5) {
      out.push({ no, wire, value: BigInt(buf.readUInt32LE(i)) });
      i += 4;
    } else throw new Error(`protobuf wire type ${wire} not supported`);
  }
  return out;
}

const sub = (fs: Field[], no: number): Buffer[] =>
  fs.filter((f) => f.no === no && f.wire === 2).map((f) => f.value as Buffer);

function pbAnyValue(buf: Buffer): AttrValue {
  const [f] = fields(buf);
  if (!f) return null;
  if (f.no === 1) return (f.value as Buffer).toString('utf8');
  if (f.no === 2) return f.value !== 0n;
  if (f.no === 3) return Number(BigInt.asIntN(64, f.value as bigint));
  if (f.no === 4) {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(f.value as bigint);
    return b.readDoubleLE(0);
  }
  return null;
}

function pbAttributes(kvs: Buffer[]): Record<string, AttrValue> {
  const out: Record<string, AttrValue> = {};
  for (const kv of kvs) {
    const fs = fields(kv);
    const key = sub(fs, 1)[0]?.toString('utf8') ?? '';
    const value = sub(fs, 2)[0];
    out[key] = value ? pbAnyValue(value) : null;
  }
  return out;
}

function decodeProtobuf(body: Buffer): ReceivedSpan[] {
  const spans: ReceivedSpan[] = [];
  for (const rs of sub(fields(body), 1)) {
    const rsf = fields(rs);
    const resourceBuf = sub(rsf, 1)[0];
    const resource = resourceBuf ? pbAttributes(sub(fields(resourceBuf), 1)) : {};
    for (const ss of sub(rsf, 2)) {
      for (const sp of sub(fields(ss), 2)) {
        const f = fields(sp);
        spans.push({
          traceId: sub(f, 1)[0]?.toString('hex') ?? '',
          spanId: sub(f, 2)[0]?.toString('hex') ?? '',
          name: sub(f, 5)[0]?.toString('utf8') ?? '',
          attributes: pbAttributes(sub(f, 9)),
          resource,
        });
      }
    }
  }
  return spans;
}

// ---- OTLP/JSON ----

interface JsonKv {
  key: string;
  value: Record<string, unknown>;
}

function jsonValue(v: Record<string, unknown>): AttrValue {
  if ('stringValue' in v) return String(v.stringValue);
  if ('intValue' in v) return Number(v.intValue);
  if ('doubleValue' in v) return Number(v.doubleValue);
  if ('boolValue' in v) return Boolean(v.boolValue);
  return null;
}

const jsonAttributes = (kvs: JsonKv[] | undefined): Record<string, AttrValue> =>
  Object.fromEntries((kvs ?? []).map((kv) => [kv.key, jsonValue(kv.value)]));

/** OTLP/JSON ids are hex; some senders use base64 (the protobuf JSON mapping). */
const jsonId = (id: string, bytes: number): string =>
  id.length === bytes * 2 && /^[0-9a-f]+$/i.test(id)
    ? id.toLowerCase()
    : Buffer.from(id, 'base64').toString('hex');

function decodeJson(body: Buffer): ReceivedSpan[] {
  const doc = JSON.parse(body.toString('utf8')) as {
    resourceSpans?: Array<{
      resource?: { attributes?: JsonKv[] };
      scopeSpans?: Array<{
        spans?: Array<{ traceId: string; spanId: string; name: string; attributes?: JsonKv[] }>;
      }>;
    }>;
  };
  const spans: ReceivedSpan[] = [];
  for (const rs of doc.resourceSpans ?? []) {
    const resource = jsonAttributes(rs.resource?.attributes);
    for (const ss of rs.scopeSpans ?? [])
      for (const sp of ss.spans ?? [])
        spans.push({
          traceId: jsonId(sp.traceId, 16),
          spanId: jsonId(sp.spanId, 8),
          name: sp.name,
          attributes: jsonAttributes(sp.attributes),
          resource,
        });
  }
  return spans;
}

export async function startOtlpCollector(): Promise<OtlpCollector> {
  const requests: ReceivedRequest[] = [];
  const spans: ReceivedSpan[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const contentType = String(req.headers['content-type'] ?? '');
      requests.push({ path: req.url ?? '', contentType });
      const body = Buffer.concat(chunks);
      try {
        if (req.url === '/v1/traces')
          spans.push(...(contentType.includes('json') ? decodeJson(body) : decodeProtobuf(body)));
      } catch (err) {
        res.writeHead(400, { 'content-type': 'text/plain' });
        res.end(String(err));
        return;
      }
      if (contentType.includes('json')) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{}');
      } else {
        res.writeHead(200, { 'content-type': 'application/x-protobuf' });
        res.end();
      }
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    spans,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
