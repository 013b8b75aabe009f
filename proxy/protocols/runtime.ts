/**
 * The decoders of one sidecar: which one claims a connection, and the state they share (the
 * bounded labels, the engine.io sessions). Chosen once per connection, at the request (HTTP) or
 * at the 101 (WebSocket); a connection nothing claims costs nothing more.
 */
import type { IncomingMessage } from 'node:http';
import { protocolEnabled } from '../config/sidecar-options.js';
import type { SidecarContext } from '../context.js';
import type { WsDecoder } from './decoder.js';
import { EngineSessions, type SessionOrigin } from './engineio/session.js';
import { EnginePollingRequest, EngineWsDecoder, engineioRequest } from './engineio/transports.js';
import { GRAPHQL_TRANSPORT_WS, GRAPHQL_WS_LEGACY, GraphqlWsDecoder } from './graphql-ws.js';
import { ProtocolLabels } from './labels-set.js';
import { MQTT_SUBPROTOCOLS, MqttDecoder } from './mqtt.js';

export class ProtocolRuntime {
  readonly labels: ProtocolLabels;
  readonly engineio: EngineSessions | null;

  constructor(private readonly ctx: SidecarContext) {
    this.labels = new ProtocolLabels(ctx.metrics, ctx.config.labelCap);
    this.engineio = protocolEnabled(ctx.config, 'engineio') ? new EngineSessions(ctx, this.labels) : null;
  }

  /** The engine.io view of a plain HTTP request (a polling request), or null. */
  httpRequest(req: IncomingMessage, origin: SessionOrigin): EnginePollingRequest | null {
    if (!this.engineio) return null;
    const eio = engineioRequest(req.url ?? '/', this.ctx.config.engineioPath);
    // Only polling requests belong to a session over HTTP. A transport=websocket request that
    // arrives as plain HTTP is an upgrade a hop stripped: its 400 refuses the upgrade, not the
    // session, which goes on polling (the relay logs the attempt as upgrade_stripped).
    if (eio === null || (req.method !== 'GET' && req.method !== 'POST')) return null;
    if (eio.transport !== 'polling') return null;
    return new EnginePollingRequest(this.ctx, this.engineio, req, eio, origin);
  }

  /** The decoder for a WebSocket that just got its 101, or null when none claims it. */
  wsDecoder(req: IncomingMessage, res: IncomingMessage, origin: SessionOrigin): WsDecoder | null {
    if (this.engineio) {
      const eio = engineioRequest(req.url ?? '/', this.ctx.config.engineioPath);
      if (eio) {
        const session = eio.sid
          ? this.engineio.adopt(eio.sid, 'polling', origin)
          : this.engineio.create(origin);
        return new EngineWsDecoder(this.ctx, session);
      }
    }
    // The others by the subprotocol the backend chose.
    const sub = String(res.headers['sec-websocket-protocol'] ?? '').trim();
    if (
      (sub === GRAPHQL_TRANSPORT_WS || sub === GRAPHQL_WS_LEGACY) &&
      protocolEnabled(this.ctx.config, 'graphql-ws')
    )
      return new GraphqlWsDecoder(this.ctx, sub);
    if ((MQTT_SUBPROTOCOLS as readonly string[]).includes(sub) && protocolEnabled(this.ctx.config, 'mqtt'))
      return new MqttDecoder(this.ctx, sub);
    return null;
  }

  stop(): void {
    this.engineio?.stop();
  }
}
