/**
 * `npm start`: the chat room on a real port.
 *
 * Environment: HOST (127.0.0.1), PORT (8000), CHANNEL_LAYER_URL
 * (`memory://?groupHistory=chat_*`; `redis://127.0.0.1:6379/0?groupHistory=chat_*`
 * to share rooms between processes, see `app.ts`).
 * The same app runs under the CLI: `npx switchyard serve examples/chat/app.ts:application`.
 */
import { prepareChannelLayers, setLogger } from 'switchyard';
import { createLogger, serve } from 'switchyard/server';
import { application } from './app.js';

const logger = createLogger({ level: process.env.SWITCHYARD_LOG_LEVEL ?? process.env.LOG_LEVEL ?? 'info' });
setLogger(logger);
try {
  await prepareChannelLayers();
} catch (err) {
  // A bad CHANNEL_LAYER_URL: one line saying what is wrong, and no server.
  logger.fatal((err as Error).message);
  process.exit(1);
}

const server = await serve(application, {
  host: process.env.HOST || '127.0.0.1',
  port: Number(process.env.PORT || 8000),
  logger,
  handleSignals: true,
});
logger.info({ layer: process.env.CHANNEL_LAYER_URL }, `Chat ready: open ${server.url}/ in a browser`);
