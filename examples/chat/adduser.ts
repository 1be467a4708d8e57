/**
 * Creates a chat user, or changes a user's password:
 *
 *     npm run chat:adduser -- NAME PASSWORD
 *
 * Writes `CHAT_USERS_FILE` (default `examples/chat/users.json`). A running
 * server picks the change up on the next login, without a restart.
 */
import { UserStore } from './users.js';

const [name, password] = process.argv.slice(2);
if (name === undefined || password === undefined) {
  console.error('usage: npm run chat:adduser -- NAME PASSWORD');
  process.exit(2);
}
const store = new UserStore();
try {
  const existed = store.has(name);
  await store.add(name, password);
  console.log(`${existed ? 'Changed the password of' : 'Created'} user ${name} in ${store.path}`);
} catch (error) {
  console.error(`adduser: ${(error as Error).message}`);
  process.exit(1);
}
