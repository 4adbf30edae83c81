import { NO_MESSAGE_HANDLER } from '@nestjs/microservices/constants';
import { ClientProxy, IncomingResponse, ReadPacket, WritePacket } from '@nestjs/microservices';
import { JSONCodec } from 'nats';
import type { InProcessBroker } from './in-process.broker';

const codec = JSONCodec();

/**
 * `ClientProxy` over an `InProcessBroker`. Mirrors `ClientNats`: the packet is encoded with the
 * NATS JSON codec (so a BigInt or a cycle fails with the same `Bad JSON` error), replies are
 * matched by packet id, and an error packet ends the observable with the `err` the server sent.
 */
export class InProcessClient extends ClientProxy {
  constructor(private readonly broker: InProcessBroker) {
    super();
  }

  async connect(): Promise<InProcessBroker> {
    this._status$.next('connected');
    return this.broker;
  }

  async close(): Promise<void> {
    this._status$.next('disconnected');
  }

  /** The in-process wire never disconnects or reconnects: there are no status events to listen to. */
  override on(): void {
    // nothing to subscribe to
  }

  unwrap<T>(): T {
    return this.broker as T;
  }

  protected publish(partialPacket: ReadPacket, callback: (packet: WritePacket) => void): () => void {
    let disposed = false;
    try {
      const packet = this.assignPacketId(partialPacket);
      const channel = this.normalizePattern(partialPacket.pattern);
      const body = codec.encode(packet);
      const endpoint = this.broker.requestTarget(channel);
      if (!endpoint) {
        // Answer asynchronously, as a round trip would.
        setImmediate(() => {
          if (!disposed) callback({ err: new Error(NO_MESSAGE_HANDLER), isDisposed: true });
        });
      } else {
        endpoint.deliverRequest(channel, body, (reply) => {
          if (disposed) return;
          const message = codec.decode(reply) as IncomingResponse;
          if (message.id && message.id !== packet.id) return;
          const { err, response, isDisposed } = message;
          if (isDisposed || err) callback({ err, response, isDisposed: true });
          else callback({ err, response });
        });
      }
      return () => {
        disposed = true;
      };
    } catch (err) {
      callback({ err });
      return () => undefined;
    }
  }

  protected async dispatchEvent<T = unknown>(packet: ReadPacket): Promise<T> {
    const channel = this.normalizePattern(packet.pattern);
    const body = codec.encode(packet);
    // Like a NATS publish with no subscriber, an event nobody handles is simply dropped.
    for (const endpoint of this.broker.eventTargets(channel)) endpoint.deliverEvent(channel, body);
    return undefined as T;
  }
}
