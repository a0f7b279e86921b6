import http from "node:http";
import type { AddressInfo } from "node:net";

/**
 * A network between a writer and the embedded S3 that can hold one request (tests): every request is forwarded
 * as it came (headers included, so its SigV4 signature still holds), except the first one a `hold` matches, which
 * waits, already sent by the client, until the test releases it. That is a request "held in the network": it lands
 * whenever the network lets it, after whatever happened in between.
 */
export interface HoldingProxy {
  /** `http://127.0.0.1:<port>`: the writer's `AWS_ENDPOINT_URL_S3`. */
  endpoint: string;
  hold(match: (req: http.IncomingMessage) => boolean): Hold;
  stop(): Promise<void>;
}

export interface Hold {
  /** Resolves when the matching request has arrived and is being held. */
  arrived: Promise<void>;
  /** Lets it go on to the server; resolves with the server's HTTP status once it has landed there. */
  release(): Promise<number>;
}

export async function startHoldingProxy(target: string): Promise<HoldingProxy> {
  const upstream = new URL(target);
  const holds: { match: (req: http.IncomingMessage) => boolean; arrive: () => void; gate: Promise<void>; landed: (status: number) => void }[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", async () => {
      const i = holds.findIndex((h) => h.match(req));
      const hold = i >= 0 ? holds.splice(i, 1)[0] : undefined;
      if (hold) {
        hold.arrive();
        await hold.gate;
      }
      const out = http.request(
        { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers },
        (answer) => {
          hold?.landed(answer.statusCode ?? 0);
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      out.on("error", () => res.destroy());
      out.end(Buffer.concat(chunks));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    hold(match) {
      let arrive!: () => void;
      let open!: () => void;
      let landed!: (status: number) => void;
      const arrived = new Promise<void>((resolve) => (arrive = resolve));
      const gate = new Promise<void>((resolve) => (open = resolve));
      const status = new Promise<number>((resolve) => (landed = resolve));
      holds.push({ match, arrive, gate, landed });
      return {
        arrived,
        release: () => (open(), status),
      };
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
