// A real SMTP server for the Rust integration tests and the benchmarks to
// deliver mail to (smtp-server + mailparser), with a small HTTP control API:
//
//   GET    /messages  received messages in arrival order (JSON array of
//                     { from, to, subject, text, html, headers, messageId, receivedAt };
//                     from/to are the SMTP envelope, headers are lower-cased names)
//   DELETE /messages  forgets them
//   POST   /mode      {"mode": "accept" | "tempfail" | "slow", "delayMs": n}
//                     tempfail: every DATA is answered 451; slow: the 250 to
//                     DATA comes delayMs late (a test can kill the sender meanwhile)
//   GET    /health    200 ok
//
// A message is recorded at the moment its 250 goes out, so only messages the
// sender was told were accepted show up. No TLS; AUTH PLAIN/LOGIN is offered
// and accepts any credentials, but is optional.
//
//   SMTP_PORT=2525 SINK_HTTP_PORT=2526 node smtp-sink.mjs
//   -> "smtp-sink ready smtp=2525 http=2526" on stdout once both listen
import http from 'node:http';
import { SMTPServer } from 'smtp-server';
// mailparser takes about half a second to load: load it while the servers
// start listening, so the ready line comes sooner; DATA waits for it.
const mailparser = import('mailparser');

const HOST = '127.0.0.1';
const SMTP_PORT = Number(process.env.SMTP_PORT ?? 2525);
const HTTP_PORT = Number(process.env.SINK_HTTP_PORT ?? 2526);

let messages = [];
let mode = { mode: 'accept', delayMs: 0 };

const tempfail = () => {
  const err = new Error('Temporary failure, try again later (smtp-sink tempfail mode)');
  err.responseCode = 451;
  return err;
};

const headerValue = (key, line, parsed) => {
  // mailparser decodes plain headers (RFC 2047 words included) to a string;
  // structured ones (addresses, dates, content-type) become objects, so
  // those keep their raw, unfolded text.
  const value = parsed.headers.get(key);
  if (typeof value === 'string') return value;
  return line.slice(line.indexOf(':') + 1).replace(/\r?\n[ \t]+/g, ' ').trim();
};

const record = (session, parsed) => {
  const headers = {};
  for (const { key, line } of parsed.headerLines ?? []) {
    const value = headerValue(key, line, parsed);
    // A repeated header (Received, ...) keeps every value, one per line.
    headers[key] = key in headers ? `${headers[key]}\n${value}` : value;
  }
  messages.push({
    from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
    to: session.envelope.rcptTo.map((a) => a.address),
    subject: parsed.subject ?? '',
    text: parsed.text ?? '',
    html: parsed.html || '',
    headers,
    messageId: parsed.messageId ?? '',
    receivedAt: new Date().toISOString(),
  });
};

const smtp = new SMTPServer({
  name: 'smtp-sink.test',
  banner: 'smtp-sink',
  secure: false,
  disabledCommands: ['STARTTLS'],
  hideSTARTTLS: true,
  authMethods: ['PLAIN', 'LOGIN'],
  authOptional: true,
  allowInsecureAuth: true,
  maxAllowedUnauthenticatedCommands: false,
  disableReverseLookup: true,
  // No `size`: no message size limit at all.
  maxClients: 1000,
  socketTimeout: 120_000,
  closeTimeout: 500,
  logger: false,
  onAuth(auth, _session, callback) {
    callback(null, { user: auth.username || 'anonymous' });
  },
  onData(stream, session, callback) {
    const chunks = [];
    stream.on('data', (chunk) => chunks.push(chunk));
    stream.on('error', () => {}); // the client went away mid-message: nothing to record
    stream.on('end', async () => {
      const current = mode;
      if (current.mode === 'tempfail') return callback(tempfail());
      let parsed;
      try {
        const { simpleParser } = await mailparser;
        parsed = await simpleParser(Buffer.concat(chunks), {
          skipHtmlToText: true,
          skipTextToHtml: true,
          skipImageLinks: true,
          skipTextLinks: true,
          checksumAlgo: false,
        });
      } catch (err) {
        const e = new Error(`Message could not be parsed: ${err.message}`);
        e.responseCode = 554;
        return callback(e);
      }
      // Copy the envelope now: the session is reset once the 250 is sent.
      const envelope = { mailFrom: session.envelope.mailFrom, rcptTo: [...session.envelope.rcptTo] };
      const answer = () => {
        // A sender killed while we waited never gets its 250: not recorded.
        if (![...smtp.connections].some((c) => c.session === session)) return callback(tempfail());
        if (mode.mode === 'tempfail') return callback(tempfail());
        record({ envelope }, parsed);
        callback(null, 'OK: message queued');
      };
      if (current.mode === 'slow' && current.delayMs > 0) setTimeout(answer, current.delayMs);
      else answer();
    });
  },
});
// Listen errors are reported below; anything else is logged, never fatal.
smtp.on('error', (err) => {
  if (err.syscall !== 'listen') console.error('smtp-sink: smtp error:', err.message);
});

const json = (res, status, body) => {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
};

const readBody = (req) =>
  new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });

const control = http.createServer(async (req, res) => {
  const path = new URL(req.url, `http://${HOST}`).pathname;
  try {
    if (path === '/health' && req.method === 'GET') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      return res.end('ok');
    }
    if (path === '/messages' && req.method === 'GET') return json(res, 200, messages);
    if (path === '/messages' && req.method === 'DELETE') {
      messages = [];
      return json(res, 200, { cleared: true });
    }
    if (path === '/mode' && req.method === 'POST') {
      const body = JSON.parse((await readBody(req)) || '{}');
      if (!['accept', 'tempfail', 'slow'].includes(body.mode)) return json(res, 400, { error: `unknown mode ${body.mode}` });
      mode = { mode: body.mode, delayMs: Math.max(0, Number(body.delayMs) || 0) };
      return json(res, 200, mode);
    }
    return json(res, 404, { error: 'not found' });
  } catch (err) {
    return json(res, 400, { error: err.message });
  }
});

const listen = (server, port, name) =>
  new Promise((resolve, reject) => {
    const fail = (err) => reject(new Error(`cannot listen (${name} port ${port}): ${err.message}`));
    server.once('error', fail);
    server.listen(port, HOST, () => {
      server.off('error', fail);
      resolve(server.address().port);
    });
  });

try {
  const [smtpPort, httpPort] = await Promise.all([listen(smtp.server, SMTP_PORT, 'smtp'), listen(control, HTTP_PORT, 'http')]);
  console.log(`smtp-sink ready smtp=${smtpPort} http=${httpPort}`);
} catch (err) {
  console.error(`smtp-sink: ${err.message}`);
  process.exit(1);
}

const shutdown = () => {
  control.close();
  control.closeAllConnections?.();
  smtp.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 1000).unref();
};
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
