import { createHash } from 'node:crypto';
import type express from 'express';
import type { Response } from 'express';
import { WARDEN_VERSION } from '../proxy/index.js';
import { DASHBOARD_JS } from './dashboard/client.js';
import { FAVICON_SVG, renderDashboardPage } from './dashboard/page.js';
import { DASHBOARD_CSS } from './dashboard/styles.js';

const digest = (text: string): string => createHash('sha256').update(text).digest('hex').slice(0, 12);

// Asset URLs carry their content hash, so browsers may cache them for good and an upgrade is
// picked up at once.
const ASSETS = {
  js: `/assets/dashboard.js?v=${digest(DASHBOARD_JS)}`,
  css: `/assets/dashboard.css?v=${digest(DASHBOARD_CSS)}`,
};

/** No inline script or style, nothing from another origin, no framing. */
const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

function secure(res: Response): Response {
  return res.set({
    'Content-Security-Policy': CSP,
    'X-Content-Type-Options': 'nosniff',
    'X-Frame-Options': 'DENY',
    'Referrer-Policy': 'no-referrer',
  });
}

/**
 * Serves the dashboard at `/`: the HTML shell and its script and stylesheet, all from the package
 * (no CDN; it works offline). The shell carries no data; the script reads everything from the
 * admin API under the front's authentication.
 *
 * @example
 * ```ts
 * mountDashboard(app); // after the Host/Origin guard, before the 404 handler
 * ```
 */
export function mountDashboard(app: express.Express): void {
  const page = renderDashboardPage(ASSETS, { version: WARDEN_VERSION });
  app.get(
    ['/', '/dashboard'],
    (_req, res) => void secure(res).set('Cache-Control', 'no-cache').type('html').send(page),
  );
  app.get(
    '/assets/dashboard.js',
    (req, res) =>
      void secure(res)
        .set('Cache-Control', cacheFor(req.query['v'], ASSETS.js))
        .type('text/javascript; charset=utf-8')
        .send(DASHBOARD_JS),
  );
  app.get(
    '/assets/dashboard.css',
    (req, res) =>
      void secure(res)
        .set('Cache-Control', cacheFor(req.query['v'], ASSETS.css))
        .type('text/css; charset=utf-8')
        .send(DASHBOARD_CSS),
  );
  app.get(
    '/favicon.svg',
    (_req, res) =>
      void secure(res).set('Cache-Control', 'public, max-age=86400').type('image/svg+xml').send(FAVICON_SVG),
  );
}

function cacheFor(version: unknown, url: string): string {
  return typeof version === 'string' && url.endsWith(`v=${version}`)
    ? 'public, max-age=31536000, immutable'
    : 'no-cache';
}
