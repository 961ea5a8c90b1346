// Which test file exercises which vector of test/fixtures/vectors.json.
//
// This is the single, static registry that vector-coverage.test.ts compares with the fixture: every
// vector name in the fixture must appear in at least one list below, and every name listed must
// exist in the fixture. The lists do not depend on which tests ran or in which order.
//
// To register a new test file:
//   1. add an entry `"my-file.test.ts": ["vector_a", "vector_b"]` below (file name relative to
//      test/unit, so the coverage test can find it);
//   2. in that file, get the vectors through the registry:
//        const V = vectorsFor("my-file.test.ts");
//        afterAll(() => V.assertAllUsed());
//        const v = V.get("vector_a", "some_kind");   // at collection time (describe/top level)
//      `V.get` refuses names that are not in the file's list, and `assertAllUsed` fails the file if
//      a listed vector was never fetched, so a list cannot claim more than the file tests.
// The coverage test also checks that each registered file exists and calls vectorsFor with its own
// name.
export const COVERED_VECTORS = {
  "encoding.test.ts": ["encoding_primitives", "block_pad_short"],

  "hello.test.ts": ["client_hello"],

  // Certificates (building byte for byte, SPKI walk, signatures), signed session key, identity
  // proof, hello encoding and the client-side identity checks, against the sample chains.
  "server-hello.test.ts": ["server_hello_ed25519", "server_hello_ed448"],

  "crypto.test.ts": ["x25519_dh", "crypto_box", "cmd_authenticator", "msg_body_encryption"],

  "block-encryption.test.ts": ["sbc_init", "sbc_chain_steps", "block_encryption_session"],

  "client-transmissions.test.ts": [
    "client_NEW",
    "client_NEW_onlycreate_basicauth",
    "client_KEY",
    "client_SKEY",
    "client_SUB",
    "client_SEND_unsigned",
    "client_SEND_x25519",
    "client_SEND_ed25519",
    "client_ACK",
    "client_GET",
    "client_OFF",
    "client_DEL",
    "client_QUE",
    "client_PING",
    "client_LGET",
    "client_PRXY",
    "client_batch_two_SUB",
  ],

  // The client's queue API: message decryption, the NEW createQueue sends, INFO parsing.
  "client-queues.test.ts": ["msg_body_encryption", "client_NEW", "client_NEW_onlycreate_basicauth", "server_IDS", "server_INFO"],

  "server-responses.test.ts": [
    "server_IDS",
    "server_SOK",
    "server_OK",
    "server_PONG",
    "server_END",
    "server_DELD",
    "server_MSG_reply_to_GET",
    "server_LNK",
    "server_ERR_AUTH",
    "server_ERR_NO_MSG",
    "server_ERR_QUOTA",
    "server_ERR_LARGE_MSG",
    "server_ERR_INTERNAL",
    "server_ERR_BLOCK",
    "server_ERR_SESSION",
    "server_ERR_SERVICE",
    "server_ERR_CRYPTO",
    "server_ERR_EXPIRED",
    "server_ERR_CMD_UNKNOWN",
    "server_ERR_CMD_SYNTAX",
    "server_ERR_CMD_PROHIBITED",
    "server_ERR_CMD_NO_AUTH",
    "server_ERR_CMD_HAS_AUTH",
    "server_ERR_CMD_NO_ENTITY",
    "server_ERR_PROXY_BASIC_AUTH",
    "server_ERR_PROXY_NO_SESSION",
    "server_ERR_BLOCKED_reason_spam",
    "server_ERR_BLOCKED_reason_content_notice_ttl",
    "server_ERR_STORE_some_text",
    "server_ERR_BLOCK_push",
    "server_INFO",
    "server_ERR_reply_to_PRXY",
  ],
} as const satisfies Readonly<Record<string, readonly string[]>>;

export type CoveringFile = keyof typeof COVERED_VECTORS;
