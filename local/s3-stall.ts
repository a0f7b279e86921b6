import * as http from "node:http";
import * as net from "node:net";
import type { AddressInfo } from "node:net";

/**
 * A stalled S3 connection, for the `s3stall` and `s3halfbody` faults (local/faults.ts): an endpoint a step's
 * `AWS_ENDPOINT_URL_S3` is pointed at for one attempt.
 *  - "silent": accepts every connection, reads the request, never answers (a dead load balancer, a hung peer);
 *  - "half-body": forwards each request to the real (embedded) S3 and passes its answer on, except that a response
 *    with a body gets its status, headers and only the first half of the body, then nothing more.
 * Hand-written: it is a test double of a network failure, a few lines over node:net / node:http.
 */
export type StallMode = "silent" | "half-body";

export interface StalledS3 {
  endpoint: string;
  stop(): Promise<void>;
}

export async function startStalledS3(mode: StallMode, upstream?: string): Promise<StalledS3> {
  const sockets = new Set<net.Socket>();
  let server: net.Server;
  if (mode === "silent") {
    server = net.createServer((socket) => {
      socket.on("data", () => {}); // read and ignore: the client's request is sent, no answer ever comes
      socket.on("error", () => {});
    });
  } else {
    if (!upstream) throw new Error("the half-body stall needs the real S3 endpoint to forward to");
    const target = new URL(upstream);
    server = http.createServer((req, res) => {
      const forward = http.request(
        { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers },
        (answer) => {
          const length = Number(answer.headers["content-length"] ?? 0);
          res.writeHead(answer.statusCode ?? 500, answer.headers);
          if (length === 0) {
            answer.pipe(res);
            return;
          }
          let sent = 0;
          const half = Math.floor(length / 2);
          answer.on("data", (chunk: Buffer) => {
            if (sent >= half) return;
            const part = chunk.subarray(0, half - sent);
            sent += part.length;
            res.write(part); // the rest never comes, and the response never ends
          });
        },
      );
      forward.on("error", () => res.destroy());
      req.pipe(forward);
    });
  }
  server.on("connection", (socket: net.Socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    async stop() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
