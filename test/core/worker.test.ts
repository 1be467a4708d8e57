// runworker: a ChannelNameRouter app served from named channels (Django's Worker).
import { beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { AsyncConsumer, ChannelNameRouter, InMemoryChannelLayer, configureChannelLayers, runWorker, type LayerMessage } from 'switchyard';
import { abortAfter, until } from '../helpers/time.js';

let layer: InMemoryChannelLayer;
beforeEach(() => {
  layer = new InMemoryChannelLayer();
  configureChannelLayers({ default: layer });
});

test('a message sent to a worker channel reaches its consumer; the consumer answers through the layer', async () => {
  const instances = new Set<object>();
  class Thumbnails extends AsyncConsumer {
    async thumbnails_generate(event: LayerMessage) {
      instances.add(this);
      await this.channelLayer!.send(String(event.reply_to), { type: 'thumbnail.done', id: event.id, by: (this.scope as { channel: string }).channel });
    }
  }
  const controller = new AbortController();
  const worker = runWorker(ChannelNameRouter({ 'thumbnails-generate': Thumbnails.asApp() }), ['thumbnails-generate'], { signal: controller.signal });
  const replyTo = await layer.newChannel();
  for (const id of [1, 2, 3]) await layer.send('thumbnails-generate', { type: 'thumbnails.generate', id, reply_to: replyTo });
  const done = [];
  for (let i = 0; i < 3; i++) done.push(await layer.receive(replyTo, abortAfter(1000)));
  assert.deepEqual(done.map((m) => m.id), [1, 2, 3]);
  assert.ok(done.every((m) => m.by === 'thumbnails-generate'));
  assert.equal(instances.size, 1, 'one long-lived instance per channel');
  controller.abort();
  await worker;
});

test('a failing handler is logged, and the next message gets a fresh instance', async () => {
  const seen: number[] = [];
  class Flaky extends AsyncConsumer {
    async job(event: LayerMessage) {
      seen.push(Number(event.n));
      if (event.n === 1) throw new Error('job failed');
    }
  }
  const controller = new AbortController();
  const worker = runWorker(ChannelNameRouter({ jobs: Flaky.asApp() }), ['jobs'], { signal: controller.signal });
  await layer.send('jobs', { type: 'job', n: 1 });
  await layer.send('jobs', { type: 'job', n: 2 });
  await until(() => seen.length >= 2, 500, 'both jobs to run');
  assert.deepEqual(seen, [1, 2]);
  controller.abort();
  await worker;
});

test('a worker needs a layer and channels', async () => {
  configureChannelLayers({});
  await assert.rejects(runWorker(ChannelNameRouter({}), ['x']), /not configured; a worker needs one/);
  configureChannelLayers({ default: layer });
  await assert.rejects(runWorker(ChannelNameRouter({}), []), /at least one channel/);
});
