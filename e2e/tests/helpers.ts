import { expect, type Page } from '@playwright/test';

/** The wasm has taken over once the app marks the body. */
export async function hydrated(page: Page) {
  await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
}

/**
 * Signs in through the OpenID Connect provider by clicking the page's
 * "Sign in with Example SSO" button. `as` picks the person and `tamper` asks
 * the provider to misbehave: the provider reads both from the authorize
 * request, so then the test follows the button's redirect itself and adds
 * them to the provider's URL (the browser still carries the state cookie).
 */
export async function signIn(page: Page, opts: { as?: string; tamper?: string; from?: string } = {}) {
  const extra = new URLSearchParams();
  if (opts.as) extra.set('login_hint', opts.as);
  if (opts.tamper) extra.set('tamper', opts.tamper);
  if (opts.from !== undefined || page.url() === 'about:blank') await page.goto(opts.from ?? '/sign-in');
  const button = page.getByRole('link', { name: 'Sign in with Example SSO' });
  if ([...extra].length === 0) {
    await button.click();
    return;
  }
  const href = await button.getAttribute('href');
  const start = await page.request.get(href!, { maxRedirects: 0 });
  expect(start.status()).toBe(303);
  await page.goto(`${start.headers()['location']}&${extra}`);
}

/** A JSON API call with the page's session (and its origin, as a browser sends it); fails the test on 4xx/5xx. */
export async function api(page: Page, method: 'get' | 'post', path: string, data?: unknown) {
  const origin = new URL(page.url()).origin;
  const res = await page.request[method](path, { data, headers: { origin } });
  expect(res.status(), `${method} ${path}: ${await res.text()}`).toBeLessThan(400);
  return res.json();
}
