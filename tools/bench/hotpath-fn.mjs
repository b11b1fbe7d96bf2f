// The baselines of `npm run bench -- hotpath` (issue 14): what a user would write instead of a
// Cloudburst function, each as its own plain node:http process taking the same request body
// ({"args": [...]}) and answering {"result": ...} as the platform does:
//   node tools/bench/hotpath-fn.mjs redis REDIS_PORT  POST /incr [key, by]: Redis GET + SET
//                                                     POST /rmw [prefix, by]: GET 3 keys, SET 1
//   node tools/bench/hotpath-fn.mjs square            POST / [x]: x * x (step B of the chain)
//   node tools/bench/hotpath-fn.mjs chain B_PORT      POST / [x]: x + 1, then B over keep-alive
// Each prints "listening PORT". Plain JS, no dependencies (the RESP client is redis-fn.mjs's).
import { Agent, createServer, request } from 'node:http';
import { Resp } from './redis-fn.mjs';

/** A node:http server answering `handler(args, path)` as JSON; errors answer 500. */
function serve(handler) {
  const server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', async () => {
      let status = 200;
      let body;
      try {
        const { args } = JSON.parse(Buffer.concat(chunks).toString() || '{}');
        body = JSON.stringify({ result: await handler(args, req.url) });
      } catch (err) {
        status = 500;
        body = JSON.stringify({ error: String(err) });
      }
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
  });
  server.keepAliveTimeout = 65000;
  server.listen(0, '127.0.0.1', () => console.log(`listening ${server.address().port}`));
}

const num = (b) => (b === null ? 0 : Number(b.toString()));

/**
 * The stateful function written against Redis, as a user would: one pipelined connection
 * (what ioredis or node-redis do); the counter is a plain read then write (the issue's
 * "Redis GET + SET"); the read-modify-write reads its 3 keys in one round trip, then writes 1.
 */
async function redisFunctions(port) {
  const redis = await Resp.open(port);
  serve(async (args, path) => {
    if (path === '/incr') {
      const [key, by] = args;
      const [v] = await redis.send(['GET', key]);
      const n = num(v) + by;
      await redis.send(['SET', key, String(n)]);
      return n;
    }
    if (path === '/rmw') {
      const [prefix, by] = args;
      const values = await redis.send(['GET', `${prefix}a`], ['GET', `${prefix}b`], ['GET', `${prefix}c`]);
      const total = values.reduce((s, v) => s + num(v), by);
      await redis.send(['SET', `${prefix}out`, String(total)]);
      return total;
    }
    throw new Error(`no route ${path}`);
  });
}

/** Step A of the two-process chain: increment here, square in B, over a keep-alive connection. */
function chain(bPort) {
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  const callB = (x) => new Promise((resolve, reject) => {
    const body = JSON.stringify({ args: [x] });
    const req = request({ host: '127.0.0.1', port: bPort, method: 'POST', path: '/', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        if (res.statusCode !== 200) reject(new Error(`B answered ${res.statusCode}`));
        else resolve(JSON.parse(Buffer.concat(chunks).toString()).result);
      });
    });
    req.once('error', reject);
    req.end(body);
  });
  serve(async (args) => callB(args[0] + 1));
}

const [role, port] = process.argv.slice(2);
if (role === 'redis') await redisFunctions(Number(port));
else if (role === 'square') serve(async (args) => args[0] * args[0]);
else if (role === 'chain') chain(Number(port));
else throw new Error(`usage: hotpath-fn.mjs redis PORT | square | chain B_PORT (got ${role})`);
