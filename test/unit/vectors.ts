// Typed access to test/fixtures/vectors.json (the byte-exact vectors of the wire contract).
// Not a test file. Test files get their vectors through `vectorsFor(<their file name>)`, which only
// hands out the names registered for that file in covered-vectors.ts and records which were used.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { x25519 as nobleX25519 } from "@noble/curves/ed25519.js";
import { expect } from "vitest";
import { COVERED_VECTORS, type CoveringFile } from "./covered-vectors.js";

export const FIXTURE_PATH = new URL("../fixtures/vectors.json", import.meta.url);

type Hex = string;

export interface Common {
  session_id_hex: Hex;
  server_session_x25519_priv_hex: Hex;
  server_session_x25519_pub_hex: Hex;
  rcv_id_hex: Hex;
  snd_id_hex: Hex;
  link_id_hex: Hex;
  msg_id_hex: Hex;
  rcv_auth_x25519_priv_hex: Hex;
  rcv_auth_x25519_pub_der_hex: Hex;
  snd_auth_x25519_priv_hex: Hex;
  snd_auth_x25519_pub_der_hex: Hex;
}

export interface EncodingCase {
  type: string;
  value?: number | string | boolean | null;
  value_hex?: Hex | Hex[];
  hex: Hex;
}

export interface AuthKeyInput {
  type: "x25519" | "ed25519";
  private_hex: Hex;
}

/** Inputs and outputs of each vector kind, as they appear in the fixture. */
export interface VectorKinds {
  encoding: { inputs: Record<string, never>; outputs: { cases: EncodingCase[] } };
  block_pad: {
    inputs: { payload_hex: Hex; block_size: number };
    outputs: { block_length: number; block_sha256: Hex; block_first64_hex: Hex; last_byte_hex: Hex };
  };
  x25519: {
    inputs: { priv_a_hex: Hex; priv_b_hex: Hex };
    outputs: { pub_a_hex: Hex; pub_b_hex: Hex; pub_a_der_hex: Hex; shared_hex: Hex };
  };
  crypto_box: {
    inputs: {
      secret_hex: Hex;
      nonce_hex: Hex;
      plaintext_hex: Hex;
      pad_len: number;
      box_keypair_example: { priv_hex: Hex; peer_pub_hex: Hex };
    };
    outputs: {
      hsalsa20_key_hex: Hex;
      cryptobox_nopad_hex: Hex;
      cbencrypt_padded64_hex: Hex;
      nacl_box_with_keypair_hex: Hex;
      dh_secret_of_keypair_hex: Hex;
    };
  };
  sbc_init: {
    inputs: { session_id_hex: Hex; server_session_x25519_priv_hex: Hex; client_hello_x25519_priv_hex: Hex };
    outputs: {
      server_session_x25519_pub_hex: Hex;
      client_hello_x25519_pub_hex: Hex;
      dh_secret_hex: Hex;
      chain_key_A_hex: Hex;
      chain_key_B_hex: Hex;
      server_send_chain: "A" | "B";
      server_receive_chain: "A" | "B";
      client_send_chain: "A" | "B";
      client_receive_chain: "A" | "B";
    };
  };
  sbc_chain: {
    inputs: { chain_key_hex: Hex };
    outputs: Record<"step1" | "step2", { sb_key_hex: Hex; nonce_hex: Hex; next_chain_key_hex: Hex }>;
  };
  client_transmission: {
    inputs: {
      session_id_hex: Hex;
      server_session_x25519_pub_hex: Hex;
      corr_id_hex: Hex;
      entity_id_hex: Hex;
      auth_key: AuthKeyInput | null;
      rcv_auth_pub_der_hex?: Hex;
      rcv_dh_priv_hex?: Hex;
      rcv_dh_pub_der_hex?: Hex;
      basic_auth?: string | null;
      subscribe?: boolean;
      sender_key_der_hex?: Hex;
      body_hex?: Hex;
      notification?: boolean;
      ed25519_seed_hex?: Hex;
      ed25519_pub_hex?: Hex;
      ed25519_pub_der_hex?: Hex;
      msg_id_hex?: Hex;
    };
    outputs: {
      command_hex: Hex;
      command_ascii_prefix: string;
      t_for_auth_hex: Hex;
      t_to_send_hex: Hex;
      authorization_hex: Hex;
      transmission_hex: Hex;
      batch_block_content_hex: Hex;
      batch_length: number;
    };
  };
  client_batch: {
    inputs: {
      session_id_hex: Hex;
      server_session_x25519_pub_hex: Hex;
      items: { corr_id_hex: Hex; entity_id_hex: Hex; x25519_priv_hex: Hex }[];
    };
    outputs: { batch_block_content_hex: Hex };
  };
  authenticator: {
    inputs: {
      server_session_x25519_pub_hex: Hex;
      server_session_x25519_priv_hex: Hex;
      queue_auth_x25519_priv_hex: Hex;
      queue_auth_x25519_pub_der_hex: Hex;
      nonce_corr_id_hex: Hex;
      t_for_auth_hex: Hex;
    };
    outputs: { sha512_t_for_auth_hex: Hex; authenticator_hex: Hex; dh_secret_hex: Hex };
  };
  client_hello: {
    inputs: { smp_version: number; key_hash_hex: Hex; client_x25519_priv_hex: Hex; client_x25519_pub_hex: Hex };
    outputs: { hello_hex: Hex; hello_length: number; padded_block_sha256: Hex; padded_block_first64_hex: Hex };
  };
  server_hello: {
    inputs: {
      challenge_hex: Hex;
      challenge_query: string;
      session_id_hex: Hex;
      server_session_x25519_priv_hex: Hex;
      server_session_x25519_pub_hex: Hex;
      ca_private_seed_hex: Hex;
      leaf_private_seed_hex: Hex;
      ca_private_pkcs8_hex: Hex;
      leaf_private_pkcs8_hex: Hex;
      version_range: [number, number];
    };
    outputs: {
      ca_cert_der_hex: Hex;
      leaf_cert_der_hex: Hex;
      ca_cert_pem: string;
      leaf_cert_pem: string;
      key_hash_hex: Hex;
      key_hash_base64url: string;
      leaf_spki_der_hex: Hex;
      signed_key_signed_part_hex: Hex;
      signed_key_der_hex: Hex;
      identity_proof_hex: Hex;
      hello_hex: Hex;
      hello_length: number;
      padded_block_sha256: Hex;
      padded_block_first64_hex: Hex;
      smp_web_accepts: boolean;
      negative_checks: Record<string, string>;
    };
  };
  block_encryption: {
    inputs: {
      session_id_hex: Hex;
      chain_key_A_hex: Hex;
      chain_key_B_hex: Hex;
      client_block1_plaintext_batch_hex: Hex;
      server_block1_plaintext_batch_hex: Hex;
      server_block2_plaintext_batch_hex: Hex;
    };
    outputs: {
      client_block1: { sha256: Hex; first48_hex: Hex; chain_B_next_hex: Hex };
      server_block1: { sha256: Hex; first48_hex: Hex; chain_A_next_hex: Hex };
      server_block2: { sha256: Hex; first48_hex: Hex; chain_A_next_hex: Hex };
    };
  };
  msg_body: {
    inputs: {
      rcv_dh_priv_hex: Hex;
      rcv_dh_pub_der_hex: Hex;
      server_queue_dh_priv_hex: Hex;
      server_queue_dh_pub_der_hex: Hex;
      msg_id_hex: Hex;
      timestamp_seconds: string;
      notification_flag: "T" | "F";
      body_hex: Hex;
      rcv_id_hex: Hex;
    };
    outputs: {
      rcv_dh_secret_hex: Hex;
      inner_plaintext_hex: Hex;
      padded_length: number;
      padded_sha256: Hex;
      encrypted_body_length: number;
      encrypted_body_sha256: Hex;
      encrypted_body_first48_hex: Hex;
      encrypted_body_last16_hex: Hex;
      quota_inner_plaintext_hex: Hex;
      quota_encrypted_sha256: Hex;
      msg_transmission_length: number;
      msg_transmission_first80_hex: Hex;
      msg_transmission_sha256: Hex;
      msg_batch_sha256: Hex;
    };
  };
  server_response: {
    inputs: { corr_id_hex: Hex; entity_id_hex: Hex };
    outputs: {
      command_hex: Hex;
      transmission_hex: Hex;
      batch_block_content_hex: Hex;
      smp_web_decoded: Record<string, unknown>;
      smp_web_accepts: boolean;
    };
  };
}

export type VectorKind = keyof VectorKinds;

export interface Vector<K extends VectorKind = VectorKind> {
  name: string;
  kind: K;
  description: string;
  produced_by: string;
  inputs: VectorKinds[K]["inputs"];
  outputs: VectorKinds[K]["outputs"];
}

interface Fixture {
  title: string;
  common: Common;
  vectors: Vector[];
}

const fixture = JSON.parse(readFileSync(FIXTURE_PATH, "utf8")) as Fixture;

export const common: Common = fixture.common;

/** Every vector name in the fixture, in file order. */
export const ALL_VECTOR_NAMES: readonly string[] = fixture.vectors.map((v) => v.name);

const byName = new Map<string, Vector>(fixture.vectors.map((v) => [v.name, v]));

/** Names fetched so far in this module instance (i.e. in the current test file's worker). */
export const usedVectorNames = new Set<string>();

/** Any vector by name, checking its kind. Prefer `vectorsFor(file).get`, which enforces the registry. */
export function vectorByName<K extends VectorKind>(name: string, kind: K): Vector<K> {
  const v = byName.get(name);
  if (v === undefined) throw new Error(`no vector named ${name} in ${FIXTURE_PATH.pathname}`);
  if (v.kind !== kind) throw new Error(`vector ${name} has kind ${v.kind}, expected ${kind}`);
  usedVectorNames.add(name);
  return v as Vector<K>;
}

export interface FileVectors {
  /** The names registered for this file, in registry order. */
  readonly names: readonly string[];
  /** A registered vector of the given kind. Throws for names not registered for this file. */
  get<K extends VectorKind>(name: string, kind: K): Vector<K>;
  /** All registered vectors of this file that have the given kind, in registry order. */
  ofKind<K extends VectorKind>(kind: K): Vector<K>[];
  /** Registered names this file never fetched. */
  unused(): string[];
  /** Fails (as an expect assertion) when some registered name was never fetched. */
  assertAllUsed(): void;
}

export function vectorsFor(file: CoveringFile): FileVectors {
  const names: readonly string[] = COVERED_VECTORS[file];
  const fetched = new Set<string>();
  const self: FileVectors = {
    names,
    get(name, kind) {
      if (!names.includes(name)) throw new Error(`${name} is not registered for ${file} in covered-vectors.ts`);
      const v = vectorByName(name, kind);
      fetched.add(name);
      return v;
    },
    ofKind(kind) {
      return names.filter((n) => byName.get(n)?.kind === kind).map((n) => self.get(n, kind));
    },
    unused() {
      return names.filter((n) => !fetched.has(n));
    },
    assertAllUsed() {
      expect(self.unused(), `vectors registered for ${file} but never used`).toEqual([]);
    },
  };
  return self;
}

// ---- byte helpers (independent of src/, so the code under test does not check itself) ----

/** Hex to bytes (a plain Uint8Array, not a Buffer). */
export function h(s: string): Uint8Array {
  if (s.length % 2 !== 0 || /[^0-9a-f]/.test(s)) throw new Error(`not lowercase hex: ${s.slice(0, 40)}`);
  return new Uint8Array(Buffer.from(s, "hex"));
}

/** Bytes to lowercase hex. */
export function hx(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("hex");
}

export function ascii(s: string): Uint8Array {
  return new Uint8Array(Buffer.from(s, "latin1"));
}

export function sha256hex(b: Uint8Array): string {
  return createHashHex("sha256", b);
}

export function sha512hex(b: Uint8Array): string {
  return createHashHex("sha512", b);
}

function createHashHex(alg: string, b: Uint8Array): string {
  return createHash(alg).update(b).digest("hex");
}

/** The 12-byte DER prefix of an X25519 SubjectPublicKeyInfo (WIRE.md conventions). */
export const X25519_DER_PREFIX = "302a300506032b656e032100";
/** The 12-byte DER prefix of an Ed25519 SubjectPublicKeyInfo. */
export const ED25519_DER_PREFIX = "302a300506032b6570032100";

/** Raw key bytes from an exact 44-byte DER X25519 key given as hex (checks the prefix). */
export function rawX25519FromDer(derHex: string): Uint8Array {
  if (!derHex.startsWith(X25519_DER_PREFIX) || derHex.length !== 88) throw new Error(`not a DER X25519 key: ${derHex}`);
  return h(derHex.slice(X25519_DER_PREFIX.length));
}

/** X25519 public key of a raw private key, computed with @noble/curves (not with our WebCrypto code). */
export function x25519PublicOf(privHex: string): Uint8Array {
  return nobleX25519.getPublicKey(h(privHex));
}
