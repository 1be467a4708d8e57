/**
 * The chat's realtime admin dashboard (`switchyard/admin`), mounted only
 * when `ADMIN_TOKEN` is set: open `/admin/realtime/?token=<ADMIN_TOKEN>`
 * (a script may send `Authorization: Bearer <ADMIN_TOKEN>` instead). It
 * lists the rooms' groups and who is online in them (the chat's presence).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { type HttpScope, type WebsocketScope, getChannelLayer, getHeader } from 'switchyard';
import { type AdminDashboard, adminDashboard } from 'switchyard/admin';
import { Presence } from 'switchyard/presence';

const digest = (text: string): Buffer => createHash('sha256').update(text).digest();

/** Whether the request carries `token` (query `token=` or a bearer header), compared in constant time. */
function carriesToken(scope: HttpScope | WebsocketScope, token: string): boolean {
  const query = new URLSearchParams(Buffer.from(scope.query_string).toString('latin1')).get('token');
  const bearer = /^Bearer (.+)$/.exec(getHeader(scope.headers, 'authorization') ?? '')?.[1];
  const given = query ?? bearer;
  return given !== undefined && given !== null && timingSafeEqual(digest(given), digest(token));
}

const token = process.env.ADMIN_TOKEN ?? '';

/** The dashboard, or null when `ADMIN_TOKEN` is not set (it is off). */
export const admin: AdminDashboard | null = token === '' ? null : adminDashboard({
  authorize: (scope) => carriesToken(scope, token),
  presence: () => {
    const layer = getChannelLayer();
    return layer === null ? null : Presence.forLayer(layer, { name: 'chat' });
  },
});
