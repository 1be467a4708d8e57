/**
 * Closing a user's live connections when Django signs the user out.
 *
 * How it works. The middleware checks the session once, at the handshake;
 * a connection opened before a logout or a password change would otherwise
 * live on. So each connection of a signed-in user joins a group per user
 * ({@link djangoUserGroup}), and the Django site, on `user_logged_out` and
 * on a password change, sends `{"type": "django.logout"}` to that group
 * through the shared channel layer. The consumer's `django_logout` handler
 * closes the socket (close code {@link DJANGO_LOGOUT_CLOSE_CODE}).
 *
 * The Django side (a `signals.py` the site imports in `AppConfig.ready()`):
 *
 * ```python
 * from asgiref.sync import async_to_sync
 * from channels.layers import get_channel_layer
 * from django.contrib.auth.signals import user_logged_out
 * from django.db.models.signals import pre_save
 * from django.dispatch import receiver
 *
 * def sign_out(pk):
 *     async_to_sync(get_channel_layer().group_send)(f"django.user.{pk}", {"type": "django.logout"})
 *
 * @receiver(user_logged_out)
 * def on_logout(sender, user, **kwargs):
 *     if user is not None:
 *         sign_out(user.pk)
 *
 * @receiver(pre_save, sender=User)  # User = get_user_model()
 * def on_password_change(sender, instance, **kwargs):
 *     if instance.pk and sender.objects.filter(pk=instance.pk).exclude(password=instance.password).exists():
 *         sign_out(instance.pk)
 * ```
 */
import type { ChannelLayer } from '../layers/base.js';
import { isAuthenticated } from '../middleware/index.js';

/**
 * The message type Django sends to close a user's connections.
 *
 * @example
 * ```ts
 * import { DJANGO_LOGOUT, djangoUserGroup } from 'switchyard/django';
 * import { getChannelLayer } from 'switchyard';
 *
 * // What the Django site's signal sends; from Node it would be:
 * await getChannelLayer()!.groupSend(djangoUserGroup(42), { type: DJANGO_LOGOUT });
 * ```
 */
export const DJANGO_LOGOUT = 'django.logout';

/**
 * The close code a connection gets when Django signs its user out (4000-4999 are the application's).
 *
 * @example
 * ```ts
 * import { DJANGO_LOGOUT_CLOSE_CODE } from 'switchyard/django';
 *
 * declare const socket: { addEventListener(type: 'close', listener: (event: { code: number }) => void): void };
 * socket.addEventListener('close', (event) => {
 *   if (event.code === DJANGO_LOGOUT_CLOSE_CODE) location.assign('/login/');
 * });
 * ```
 */
export const DJANGO_LOGOUT_CLOSE_CODE = 4401;

/**
 * The group holding every live connection of user `id`: `django.user.<id>`.
 *
 * @example
 * ```ts
 * import { djangoUserGroup } from 'switchyard/django';
 *
 * djangoUserGroup(42); // 'django.user.42'
 * ```
 */
export function djangoUserGroup(id: number | string): string {
  return `django.user.${String(id)}`;
}

/**
 * The parts of a consumer {@link joinDjangoUserGroup} uses.
 *
 * @example
 * ```ts
 * import type { UserGroupMember } from 'switchyard/django';
 * import { WebsocketConsumer } from 'switchyard';
 *
 * const member: UserGroupMember = new WebsocketConsumer(); // any consumer is one
 * ```
 */
export interface UserGroupMember {
  /** Its scope: `scope.user` is read. */
  readonly scope: object;
  readonly channelLayer: ChannelLayer | null;
  readonly channelName: string;
}

/**
 * Adds a consumer of a signed-in user to its user group (a no-op for an
 * anonymous user or without a layer). Call it in `connect()`, and give the
 * consumer a `django_logout` handler that closes.
 *
 * @example
 * ```ts
 * import { JsonWebsocketConsumer } from 'switchyard';
 * import { DJANGO_LOGOUT_CLOSE_CODE, joinDjangoUserGroup } from 'switchyard/django';
 *
 * class Chat extends JsonWebsocketConsumer {
 *   override async connect() {
 *     await joinDjangoUserGroup(this);
 *     await this.accept();
 *   }
 *   async django_logout() {
 *     await this.close(DJANGO_LOGOUT_CLOSE_CODE);
 *   }
 * }
 * ```
 */
export async function joinDjangoUserGroup(consumer: UserGroupMember): Promise<string | null> {
  const user = (consumer.scope as { user?: unknown }).user;
  if (!isAuthenticated(user) || consumer.channelLayer === null) return null;
  const group = djangoUserGroup(user.id);
  await consumer.channelLayer.groupAdd(group, consumer.channelName);
  return group;
}
