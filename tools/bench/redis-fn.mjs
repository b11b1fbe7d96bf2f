// The baseline of the data-locality experiment: a stateless function in a plain Node server
// that fetches its arrays from Redis on every call (the paper's "Lambda + Redis"). Plain JS,
// no dependencies: a minimal RESP client.
//   node tools/bench/redis-fn.mjs REDIS_PORT   (prints "listening PORT")
import { createServer } from 'node:http';
import { connect } from 'node:net';

/** A pipelined RESP connection: commands are arrays of strings/Buffers, replies come in order. */
export class Resp {
  #socket;
  #buf = Buffer.alloc(0);
  #waiting = [];

  static open(port) {
    return new Promise((resolve, reject) => {
      const socket = connect(port, '127.0.0.1', () => resolve(new Resp(socket)));
      socket.once('error', reject);
    });
  }

  constructor(socket) {
    this.#socket = socket;
    socket.setNoDelay(true);
    socket.on('data', (d) => {
      this.#buf = this.#buf.length === 0 ? d : Buffer.concat([this.#buf, d]);
      this.#drain();
    });
  }

  #drain() {
    while (this.#waiting.length > 0) {
      const end = this.#buf.indexOf('\r\n');
      if (end < 0) return;
      const type = String.fromCharCode(this.#buf[0]);
      const head = this.#buf.subarray(1, end).toString();
      if (type === '$') {
        const len = Number(head);
        if (len < 0) {
          this.#buf = this.#buf.subarray(end + 2);
          this.#waiting.shift().resolve(null);
          continue;
        }
        if (this.#buf.length < end + 2 + len + 2) return;
        const value = Buffer.from(this.#buf.subarray(end + 2, end + 2 + len));
        this.#buf = this.#buf.subarray(end + 4 + len);
        this.#waiting.shift().resolve(value);
      } else {
        this.#buf = this.#buf.subarray(end + 2);
        const w = this.#waiting.shift();
        if (type === '-') w.reject(new Error(head));
        else w.resolve(head);
      }
    }
  }

  send(...commands) {
    const parts = [];
    for (const args of commands) {
      parts.push(Buffer.from(`*${args.length}\r\n`));
      for (const a of args) {
        const b = Buffer.isBuffer(a) ? a : Buffer.from(String(a));
        parts.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n'));
      }
    }
    const replies = commands.map(() => new Promise((resolve, reject) => this.#waiting.push({ resolve, reject })));
    this.#socket.write(Buffer.concat(parts));
    return Promise.all(replies);
  }

  close() {
    this.#socket.end();
  }
}

function sumAll(buffers) {
  let total = 0;
  for (const b of buffers) {
    const a = new Float64Array(b.buffer, b.byteOffset, b.byteLength / 8);
    for (let i = 0; i < a.length; i++) total += a[i];
  }
  return total;
}

if (process.argv[1]?.endsWith('redis-fn.mjs')) {
  const redis = await Resp.open(Number(process.argv[2]));
  const server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', async () => {
      const { keys } = JSON.parse(Buffer.concat(chunks).toString());
      const values = await redis.send(...keys.map((k) => ['GET', k]));
      const body = JSON.stringify({ result: sumAll(values) });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
  });
  server.keepAliveTimeout = 65000;
  server.listen(0, '127.0.0.1', () => console.log(`listening ${server.address().port}`));
}
