// A partner's run-task endpoint for the browser tests, behaving as
// HashiCorp's run-task scaffolding does (shared/spec/run-tasks.md): it
// checks X-TFC-Task-Signature (HMAC-SHA512 of the body, compared in
// constant time) and answers 401 on a mismatch; answers the verification
// request (access_token "test-token") with 200; for a stage request it
// answers 200 at once, fetches the plan JSON it was offered, sends a
// "running" update, and a second later "passed" with an outcome, so the
// page has progress to show.
import crypto from 'node:crypto';
import http from 'node:http';

const HOST = '127.0.0.1';
const PORT = Number(process.env.RUN_TASK_PORT ?? 3922);
export const KEY = process.env.RUN_TASK_KEY ?? 'e2e-run-task-hmac-key';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function callBack(payload) {
  const token = payload.access_token;
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/vnd.api+json' };
  if (payload.plan_json_api_url) await fetch(payload.plan_json_api_url, { headers: { authorization: `Bearer ${token}` } }).catch(() => {});
  const send = (attributes, outcomes) => fetch(payload.task_result_callback_url, {
    method: 'PATCH',
    headers,
    body: JSON.stringify({ data: { type: 'task-results', attributes, ...(outcomes ? { relationships: { outcomes: { data: outcomes } } } : {}) } }),
  }).catch(() => {});
  await send({ status: 'running', message: 'Scanning the plan' });
  await sleep(3000);
  await send({ status: 'passed', message: '1 passed, 0 failed', url: 'https://scanner.partner.example/results/1' }, [{
    type: 'task-result-outcomes',
    attributes: { 'outcome-id': 'E2E-1', description: 'Resources are tagged', tags: { Severity: [{ label: 'Low', level: 'info' }] } },
  }]);
}

http.createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/health') { res.writeHead(200); return res.end('ok'); }
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks);
    const expected = crypto.createHmac('sha512', KEY).update(body).digest();
    const given = Buffer.from(String(req.headers['x-tfc-task-signature'] ?? ''), 'hex');
    if (given.length !== expected.length || !crypto.timingSafeEqual(given, expected)) {
      res.writeHead(401); return res.end('invalid signature');
    }
    let payload;
    try { payload = JSON.parse(body.toString('utf8')); } catch { res.writeHead(400); return res.end('not JSON'); }
    res.writeHead(200); res.end();
    if (payload.access_token !== 'test-token') callBack(payload);
  });
}).listen(PORT, HOST, () => console.log(`run-task endpoint on http://${HOST}:${PORT}/`));
