import { createServer, connect, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

export interface TcpProxy {
  port: number;
  /** Drops every open connection and refuses new ones, like a server that went down. */
  cut(): Promise<void>;
  /** Accepts connections again on the same port. */
  restore(): Promise<void>;
  /**
   * Stops forwarding bytes in both directions without closing anything, like a
   * server process that was stopped (SIGSTOP) or a network that went silent:
   * connections stay open and new ones are accepted, but nothing gets through.
   * With `from`, only what that side sends is held: `stall('server')` lets a
   * request through and holds back the server's answer.
   */
  stall(from?: 'client' | 'server'): void;
  /** Forwards again, first the bytes held back during the stall, in order. */
  resume(): void;
  close(): Promise<void>;
}

export interface TcpProxyOptions {
  /**
   * Sees every chunk before it is forwarded (or held by a stall), with its direction: a test
   * can act at an exact point of a conversation, say stall another proxy as the end of an
   * email's DATA goes to the SMTP server, before the server can answer it.
   */
  onData?: (chunk: Buffer, from: 'client' | 'server') => void;
}

/** A loopback TCP proxy in front of a real server, to take it "down" without stopping it. */
export async function startTcpProxy(
  targetPort: number,
  targetHost = '127.0.0.1',
  { onData }: TcpProxyOptions = {},
): Promise<TcpProxy> {
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  let port = 0;
  // The directions held back now: what the client sends, what the server sends.
  const stalled = new Set<'client' | 'server'>();
  // What arrived while stalled, per destination and in order; null stands for the end of input.
  const held = new Map<Socket, (Buffer | null)[]>();

  const forward = (from: Socket, to: Socket, direction: 'client' | 'server'): void => {
    const pass = (chunk: Buffer | null): void => {
      if (chunk !== null) onData?.(chunk, direction);
      if (stalled.has(direction)) {
        const queue = held.get(to);
        if (queue === undefined) held.set(to, [chunk]);
        else queue.push(chunk);
      } else if (chunk === null) {
        to.end();
      } else if (!to.write(chunk)) {
        from.pause();
        to.once('drain', () => from.resume());
      }
    };
    from.on('data', pass);
    from.on('end', () => {
      pass(null);
    });
  };

  const open = async (): Promise<void> => {
    const s = createServer((client) => {
      const upstream = connect(targetPort, targetHost);
      sockets.add(client);
      sockets.add(upstream);
      const drop = (): void => {
        client.destroy();
        upstream.destroy();
        sockets.delete(client);
        sockets.delete(upstream);
        held.delete(client);
        held.delete(upstream);
      };
      client.on('error', drop).on('close', drop);
      upstream.on('error', drop).on('close', drop);
      forward(client, upstream, 'client');
      forward(upstream, client, 'server');
    });
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.listen(port, '127.0.0.1', () => {
        resolve();
      });
    });
    port = (s.address() as AddressInfo).port;
    server = s;
  };

  const shut = async (): Promise<void> => {
    const s = server;
    server = undefined;
    stalled.clear();
    held.clear();
    for (const socket of sockets) socket.destroy();
    sockets.clear();
    if (s !== undefined)
      await new Promise<void>((resolve) =>
        s.close(() => {
          resolve();
        }),
      );
  };

  await open();
  return {
    get port() {
      return port;
    },
    cut: shut,
    restore: open,
    stall: (from) => {
      if (from !== 'server') stalled.add('client');
      if (from !== 'client') stalled.add('server');
    },
    resume: () => {
      stalled.clear();
      for (const [to, chunks] of held) {
        if (to.destroyed) continue;
        for (const chunk of chunks) {
          if (chunk === null) to.end();
          else to.write(chunk);
        }
      }
      held.clear();
    },
    close: shut,
  };
}
