// Inside workerd: the relay's objects start libsodium (its wasm imported as a module, src/server/
// sodium.ts) on their first event, the secretbox then runs on it, and a message still makes the
// round trip through the relay.
import { runInDurableObject } from "cloudflare:test";
import { xsalsa20poly1305 } from "@noble/ciphers/salsa.js";
import { describe, expect, it } from "vitest";
import { randomBytes } from "../../src/crypto/random.js";
import { cryptoBoxOpen } from "../../src/crypto/secretbox.js";
import { installedSecretbox, secretboxBackend, secretboxOpen, secretboxSeal } from "../../src/crypto/secretboxBackend.js";
import { LibsodiumSecretbox } from "../../src/crypto/sodium.js";
import { encodePublicKey } from "../../src/crypto/keys.js";
import { generateX25519, x25519 } from "../../src/crypto/x25519.js";
import { unpad } from "../../src/protocol/padding.js";
import { startLibsodium } from "../../src/server/sodium.js";
import { openWithSession } from "./session-of.js";

const utf8 = new TextEncoder();

describe("libsodium in workerd", () => {
  it("a Session object starts it, and a message makes the round trip through the relay on it", async () => {
    const { client, session } = await openWithSession();
    // The Session's constructor started it; by the time the hello is answered it has switched.
    expect(await runInDurableObject(session, () => secretboxBackend())).toBe("libsodium");
    const box = installedSecretbox();
    expect(box).toBeInstanceOf(LibsodiumSecretbox);
    expect((box as LibsodiumSecretbox).running).toBe(true);

    const auth = await generateX25519();
    const dh = await generateX25519();
    const ids = await client.command(
      new Uint8Array(0),
      {
        tag: "NEW",
        rcvAuthKey: encodePublicKey({ alg: "x25519", raw: auth.publicKey }),
        rcvDhKey: encodePublicKey({ alg: "x25519", raw: dh.publicKey }),
        basicAuth: null,
        subscribe: false,
        queueReqData: { mode: "M", link: null },
        ntfCreds: null,
      },
      { x25519PrivateKey: auth.privateKey },
    );
    if (ids.tag !== "IDS") throw new Error(`expected IDS, got ${ids.tag}`);
    expect(await client.request(ids.sndId, { tag: "SEND", notify: true, body: utf8.encode("through libsodium") })).toEqual({ tag: "OK" });
    const got = await client.request(ids.rcvId, { tag: "GET" }, { x25519PrivateKey: auth.privateKey });
    if (got.tag !== "MSG") throw new Error(`expected MSG, got ${got.tag}`);
    const secret = await x25519(dh.privateKey, ids.srvDhKey.subarray(12));
    const plain = cryptoBoxOpen(secret, got.msgId, got.body);
    expect(plain).not.toBeNull();
    expect(new TextDecoder().decode(unpad(plain!).subarray(10))).toBe("through libsodium");
    expect((box as LibsodiumSecretbox).aborts).toBe(0);
    client.close();
  });

  it("startLibsodium resolves true, once per isolate, and gives @noble's bytes", async () => {
    expect(await startLibsodium()).toBe(true);
    expect(startLibsodium()).toBe(startLibsodium());
    expect(secretboxBackend()).toBe("libsodium");
    for (const size of [0, 1, 100, 16368, 60_000]) {
      const key = randomBytes(32);
      const nonce = randomBytes(24);
      const msg = randomBytes(size);
      const sealed = secretboxSeal(key, nonce, msg);
      expect(sealed).toEqual(xsalsa20poly1305(key, nonce).encrypt(msg));
      expect(secretboxOpen(key, nonce, sealed)).toEqual(msg);
    }
  });
});
