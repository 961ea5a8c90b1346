// Reaching the relay's Durable Objects from workerd tests: the Queue object behind a queue id,
// an eviction (the object's memory gone, its storage and sockets kept), and replies held back.
import { env, runInDurableObject } from "cloudflare:test";
import { loadQueueIds } from "../../src/server/identityStore.js";
import type { QueueDO } from "../../src/server/queue.js";
import type { SessionDO } from "../../src/server/session.js";

/** The Queue object behind a recipient id, found through the relay's own id codec, and its name. */
export async function queueObjectOf(rcvId: Uint8Array): Promise<{ name: string; stub: DurableObjectStub<QueueDO> }> {
  const routed = (await loadQueueIds(env)).open(rcvId);
  if (routed === null) throw new Error("rcvId does not open");
  return { name: routed.queue, stub: env.QUEUE.getByName(routed.queue) };
}

/**
 * The object forgets everything it kept in memory: its state becomes that of an instance
 * constructed now over the same storage and sockets, as after an eviction and a wake. Only
 * between events (never while one is being handled), as the runtime does.
 */
export async function evict<T extends Rpc.DurableObjectBranded>(stub: DurableObjectStub<T>, make: (state: DurableObjectState) => object): Promise<void> {
  await runInDurableObject(stub, (instance, state) => {
    const fresh = make(state) as Record<string, unknown>;
    const target = instance as unknown as Record<string, unknown>;
    for (const k of Object.keys(target)) if (!(k in fresh)) delete target[k];
    Object.assign(target, fresh);
  });
}

/**
 * A slow network between a Session and its Queue objects: the Session's calls take effect at
 * once, but their replies reach it only after `release()`. NEW's `create` is not held.
 */
export async function holdQueueReplies(session: DurableObjectStub<SessionDO>): Promise<{ release(): void }> {
  let held = true;
  await runInDurableObject(session, (instance) => {
    const target = instance as unknown as { env: Env };
    const real = target.env;
    const QUEUE = {
      getByName: (name: string) => ({
        call: async (arg: Parameters<QueueDO["call"]>[0]) => {
          const r = await real.QUEUE.getByName(name).call(arg);
          while (held) await new Promise((res) => setTimeout(res, 5));
          return r;
        },
        create: (arg: Parameters<QueueDO["create"]>[0]) => real.QUEUE.getByName(name).create(arg),
      }),
    };
    target.env = { ...real, QUEUE } as unknown as Env;
  });
  return {
    release: () => {
      held = false;
    },
  };
}
