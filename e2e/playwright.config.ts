// Runs the release build of the server on a fresh SQLite database, with a
// real OpenID Connect provider beside it (oidc-server.mjs), and drives
// Debian's Chromium (never a downloaded browser: there is none to download here).
import { defineConfig } from '@playwright/test';
import * as os from 'node:os';
import * as path from 'node:path';

const port = Number(process.env.E2E_PORT ?? 3917);
const dbDir = process.env.E2E_DB_DIR ?? path.join(os.tmpdir(), `tracker-e2e-${process.pid}`);
const server = process.env.E2E_SERVER_BIN ?? 'target/release/server';
const oidcPort = Number(process.env.E2E_OIDC_PORT ?? 3918);
/** A provider registry the poller reaches (registry-server.mjs). */
export const REGISTRY_PORT = Number(process.env.E2E_REGISTRY_PORT ?? 3919);
/** The SMTP server the app sends alerts to (smtp-sink.mjs) and its HTTP control port. */
export const SMTP_PORT = Number(process.env.E2E_SMTP_PORT ?? 3920);
export const SINK_HTTP_PORT = Number(process.env.E2E_SINK_HTTP_PORT ?? 3921);
/** A partner's run-task endpoint the conformance check calls (run-task-server.mjs). */
export const RUN_TASK_PORT = Number(process.env.E2E_RUN_TASK_PORT ?? 3922);
/** The administrator the tests sign in as (created with `server create-admin`). */
export const STAFF_EMAIL = 'staff@example.test';

export default defineConfig({
  testDir: './tests',
  timeout: 60_000,
  expect: { timeout: 15_000 },
  fullyParallel: false,
  workers: 1,
  retries: 0,
  reporter: [['list'], ['json', { outputFile: 'test-results/results.json' }]],
  use: {
    baseURL: `http://127.0.0.1:${port}`,
    trace: 'off',
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: [
        '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync',
      ],
    },
  },
  webServer: [{
    command: 'node oidc-server.mjs',
    url: `http://127.0.0.1:${oidcPort}/.well-known/openid-configuration`,
    reuseExistingServer: false,
    timeout: 30_000,
    env: { OIDC_PORT: String(oidcPort) },
  }, {
    command: 'node registry-server.mjs',
    url: `http://127.0.0.1:${REGISTRY_PORT}/.well-known/terraform.json`,
    reuseExistingServer: false,
    timeout: 30_000,
    env: { REGISTRY_PORT: String(REGISTRY_PORT) },
  }, {
    command: 'node smtp-sink.mjs',
    url: `http://127.0.0.1:${SINK_HTTP_PORT}/health`,
    reuseExistingServer: false,
    timeout: 30_000,
    env: { SMTP_PORT: String(SMTP_PORT), SINK_HTTP_PORT: String(SINK_HTTP_PORT) },
  }, {
    command: 'node run-task-server.mjs',
    url: `http://127.0.0.1:${RUN_TASK_PORT}/health`,
    reuseExistingServer: false,
    timeout: 30_000,
    env: { RUN_TASK_PORT: String(RUN_TASK_PORT) },
  }, {
    command: `sh -c '${server} create-admin --email ${STAFF_EMAIL} && exec ${server} serve'`,
    cwd: '..',
    url: `http://127.0.0.1:${port}/healthz`,
    reuseExistingServer: false,
    timeout: 60_000,
    stdout: 'pipe',
    stderr: 'pipe',
    env: {
      DATABASE_URL: `sqlite://${dbDir}/e2e.db`,
      LEPTOS_SITE_ADDR: `127.0.0.1:${port}`,
      LEPTOS_SITE_ROOT: 'target/site',
      RUST_LOG: 'warn',
      OIDC_ISSUER_URL: `http://127.0.0.1:${oidcPort}`,
      OIDC_CLIENT_ID: 'tracker-e2e',
      OIDC_CLIENT_SECRET: 'e2e-secret',
      OIDC_LABEL: 'Example SSO',
      OUTBOUND_ALLOW: 'http://127.0.0.1',
      REGISTRY_POLL_TICK_SECONDS: '2',
      SMTP_HOST: '127.0.0.1',
      SMTP_PORT: String(SMTP_PORT),
      SMTP_TLS: 'none',
      MAIL_FROM: 'Integration Tracker <alerts@tracker.example>',
      ALERT_DELIVERY_TICK_SECONDS: '1',
      ALERT_FOLD_SECONDS: '1',
      RUN_TASK_CHECK_TICK_MS: '200',
      // Every test signs in from 127.0.0.1, several times a minute.
      SIGN_IN_RATE_LIMIT: '600',
    },
  }],
});
