#!/usr/bin/env node
// Tiny static file server for the demo (no dependencies):
//   node runtimes/js/bin/serve.js [--port N] [ROOT]
// ROOT defaults to the repository root; open
//   http://localhost:PORT/runtimes/js/demo/
// (the demo loads out/model.json, which `make demo` writes).
import http from 'node:http';
import { createReadStream, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const TYPES = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.mjs': 'text/javascript; charset=utf-8',
  '.json': 'application/json', '.css': 'text/css', '.wasm': 'application/wasm', '.png': 'image/png', '.svg': 'image/svg+xml',
};

export function serve(root, port = 8000, host = '127.0.0.1') {
  root = path.resolve(root);
  const server = http.createServer((req, res) => {
    let rel;
    try { rel = decodeURIComponent(new URL(req.url, 'http://x').pathname); } catch { rel = '/'; }
    let file = path.join(root, path.normalize(rel));
    if (file !== root && !file.startsWith(root + path.sep)) { res.writeHead(403).end('forbidden'); return; }
    try {
      if (statSync(file).isDirectory()) {
        if (!rel.endsWith('/')) { res.writeHead(301, { location: rel + '/' }).end(); return; }
        file = path.join(file, 'index.html');
      }
      const st = statSync(file);
      res.writeHead(200, { 'content-type': TYPES[path.extname(file)] || 'application/octet-stream', 'content-length': st.size, 'cache-control': 'no-store' });
      if (req.method === 'HEAD') { res.end(); return; }
      createReadStream(file).pipe(res);
    } catch {
      res.writeHead(404, { 'content-type': 'text/plain' }).end(`not found: ${rel}`);
    }
  });
  return new Promise((resolve) => server.listen(port, host, () => resolve(server)));
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const args = process.argv.slice(2);
  let port = 8000;
  let root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--port') port = Number(args[++i]);
    else if (args[i] === '-h' || args[i] === '--help') { console.log('usage: serve.js [--port N] [ROOT]'); process.exit(0); }
    else root = args[i];
  }
  serve(root, port).then((s) => {
    const p = s.address().port;
    console.log(`serving ${path.resolve(root)} at http://127.0.0.1:${p}/  (demo: http://127.0.0.1:${p}/runtimes/js/demo/)`);
  });
}
