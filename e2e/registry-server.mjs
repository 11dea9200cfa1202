// A small provider registry for the browser tests, speaking the provider
// registry protocol (shared/spec/registry.md §3): service discovery, the
// versions list (with an ETag, answering If-None-Match with 304) and one
// download answer per platform. The tracker's poller reaches it through
// the OUTBOUND_ALLOW setting, as it would reach an in-house registry.
import http from 'node:http';

const HOST = '127.0.0.1';
const PORT = Number(process.env.REGISTRY_PORT ?? 3919);
const VERSIONS = ['1.0.0', '1.1.0'];
const PLATFORMS = [['darwin', 'arm64'], ['linux', 'amd64']];
const ETAG = '"e2e-v1"';

const json = (res, status, body, headers = {}) => {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
};

http.createServer((req, res) => {
  const path = new URL(req.url, `http://${HOST}`).pathname;
  if (path === '/.well-known/terraform.json') return json(res, 200, { 'providers.v1': '/v1/providers/' });
  const m = path.match(/^\/v1\/providers\/([^/]+)\/([^/]+)\/(.*)$/);
  if (!m || m[1] !== 'acme') return json(res, 404, { errors: ['Not Found'] });
  const [, ns, type, rest] = m;
  if (rest === 'versions') {
    if (req.headers['if-none-match'] === ETAG) { res.writeHead(304, { etag: ETAG }); return res.end(); }
    return json(res, 200, {
      versions: VERSIONS.map((version) => ({ version, protocols: ['6.0'], platforms: PLATFORMS.map(([os, arch]) => ({ os, arch })) })),
    }, { etag: ETAG });
  }
  const d = rest.match(/^([^/]+)\/download\/([^/]+)\/([^/]+)$/);
  if (d && VERSIONS.includes(d[1])) {
    const [, version, os, arch] = d;
    const base = `https://github.com/${ns}/terraform-provider-${type}/releases/download/v${version}`;
    return json(res, 200, {
      protocols: ['6.0'], os, arch, filename: `terraform-provider-${type}_${version}_${os}_${arch}.zip`,
      download_url: `${base}/terraform-provider-${type}_${version}_${os}_${arch}.zip`,
      shasums_url: `${base}/terraform-provider-${type}_${version}_SHA256SUMS`,
      shasums_signature_url: `${base}/terraform-provider-${type}_${version}_SHA256SUMS.sig`,
      shasum: '5f9c7aa76b7c34d722fc9123208e26b22d60440cb47150dd04733b9b94f4541a',
      signing_keys: { gpg_public_keys: [{ key_id: '51852D87348FFC4C', ascii_armor: '-----BEGIN PGP PUBLIC KEY BLOCK-----\n...\n-----END PGP PUBLIC KEY BLOCK-----' }] },
    });
  }
  return json(res, 404, { errors: ['Not Found'] });
}).listen(PORT, HOST, () => console.log(`registry on http://${HOST}:${PORT}`));
