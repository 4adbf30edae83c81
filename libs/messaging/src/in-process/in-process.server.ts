import { NO_MESSAGE_HANDLER } from '@nestjs/microservices/constants';
import { BaseRpcContext, CustomTransportStrategy, IncomingRequest, type MessageHandler, ReadPacket, Server, WritePacket } from '@nestjs/microservices';
import { JSONCodec } from 'nats';
import { withBusTrace } from '../bus-trace';
import type { InProcessBroker, InProcessEndpoint } from './in-process.broker';

export const IN_PROCESS_TRANSPORT = Symbol('IN_PROCESS_TRANSPORT');

const codec = JSONCodec();
/** Routes of patterns seen so far; bounded, as patterns come with the messages. */
const MAX_REMEMBERED_ROUTES = 1_000;

/** What `@Ctx()` receives on the in-process transport: the pattern, like `NatsContext.getSubject()`. */
export class InProcessContext extends BaseRpcContext<[string]> {
  getPattern(): string {
    return this.args[0];
  }
}

/**
 * Nest transport strategy for the local profile. Handles requests exactly as `ServerNats` does
 * (same `getHandlerByPattern` / `transformToObservable` / `send` pipeline, same packet shapes), with
 * JSON bytes from the NATS codec as the message body.
 */
export class InProcessServer extends Server implements CustomTransportStrategy, InProcessEndpoint {
  override readonly transportId = IN_PROCESS_TRANSPORT;
  private readonly registered: string[] = [];
  private readonly routes = new Map<string, string>();

  constructor(private readonly broker: InProcessBroker) {
    super();
  }

  listen(callback: (...optionalParams: unknown[]) => unknown): void {
    for (const channel of this.messageHandlers.keys()) {
      this.broker.register(channel, this);
      this.registered.push(channel);
    }
    this._status$.next('connected');
    callback();
  }

  close(): void {
    for (const channel of this.registered.splice(0)) this.broker.unregister(channel, this);
    this._status$.next('disconnected');
  }

  /** The in-process wire never disconnects or reconnects: there are no status events to listen to. */
  on(): void {
    // the in-process wire has no status events
  }

  unwrap<T>(): T {
    return this.broker as T;
  }

  /**
   * Nest first tries every pattern as JSON, so each message with a plain pattern such as
   * `schedules.create` throws and catches a SyntaxError (stack trace included): the route of each
   * pattern is worked out once.
   */
  protected override getRouteFromPattern(pattern: string): string {
    let route = this.routes.get(pattern);
    if (route === undefined) {
      route = super.getRouteFromPattern(pattern);
      if (this.routes.size < MAX_REMEMBERED_ROUTES) this.routes.set(pattern, route);
    }
    return route;
  }

  /** Every handler continues its sender's trace (SPEC §7). */
  override getHandlerByPattern(pattern: string): MessageHandler | null {
    const handler = super.getHandlerByPattern(pattern);
    return handler && withBusTrace(pattern, handler);
  }

  deliverRequest(channel: string, body: Uint8Array, reply: (body: Uint8Array) => void): void {
    // A later macrotask, as over the network: the caller never runs the handler synchronously.
    setImmediate(() => {
      this.handleRequest(channel, body, reply).catch((error: unknown) => this.logger.error(error));
    });
  }

  deliverEvent(channel: string, body: Uint8Array): void {
    setImmediate(() => {
      const packet = codec.decode(body) as ReadPacket;
      this.handleEvent(channel, packet, new InProcessContext([channel])).catch((error: unknown) =>
        this.logger.error(error),
      );
    });
  }

  private async handleRequest(channel: string, body: Uint8Array, reply: (body: Uint8Array) => void): Promise<void> {
    const message = codec.decode(body) as IncomingRequest;
    const context = new InProcessContext([channel]);
    const publish = (response: WritePacket): void => {
      this.onProcessingEndHook?.(this.transportId, context);
      reply(this.serializeResponse({ ...response, id: message.id }));
    };
    const handler = this.getHandlerByPattern(channel);
    if (!handler) {
      publish({ status: 'error', err: NO_MESSAGE_HANDLER });
      return;
    }
    return this.onProcessingStartHook(this.transportId, context, async () => {
      let result: unknown;
      try {
        result = await handler(message.data, context);
      } catch (error) {
        // Nest's exception filters normally turn throws into an error stream; this is the
        // fallback so a caller is never left waiting.
        this.logger.error(error);
        publish({ err: { status: 'error', message: 'Internal server error' }, isDisposed: true });
        return;
      }
      const response$ = this.transformToObservable(result);
      if (response$) this.send(response$, publish);
    });
  }

  /**
   * Over NATS a response JSON cannot encode (a BigInt, a cycle) never reaches the caller. Here the
   * caller gets an error instead of waiting for its timeout; the data fails either way.
   */
  private serializeResponse(packet: WritePacket & { id: string }): Uint8Array {
    try {
      return codec.encode(packet);
    } catch (error) {
      this.logger.error(error);
      const cause = (error as { chainedError?: unknown }).chainedError ?? error;
      const message = cause instanceof Error ? cause.message : String(cause);
      return codec.encode({
        id: packet.id,
        err: { status: 'error', message: `Response could not be serialised: ${message}` },
        isDisposed: true,
      });
    }
  }
}
