// `smp-relay/client`: the client library for Node ≥ 20 and browsers. Nothing on this path imports
// a Node module; `useNodeCrypto` (native HKDF in Node) and `useNodeLibsodium` are opt-in from
// `smp-relay/client/node`. A page can put the secretbox on libsodium with useLibsodium, passing the
// `libsodium` package's factory (this path does not import it: no 300 KiB in bundles that do not).
export { connect, CORR_ID_LENGTH, SMPClient, type CommandAuth, type ConnectOptions, type Push, type RequestOptions } from "./client.js";
export { ConnectionClosedError, SMPProtocolError, TimeoutError } from "./errors.js";
export {
  ack,
  createQueue,
  decryptMessage,
  deleteQueue,
  deliveries,
  DeliveryStream,
  getMessage,
  MessageDecryptionError,
  messages,
  parseQueueInfo,
  queueInfo,
  QueueInfoError,
  secureQueue,
  secureSenderQueue,
  sendMessage,
  subscribe,
  suspend,
  UnexpectedReplyError,
  type CreateQueueOptions,
  type Delivery,
  type MessageBody,
  type QueueInfo,
  type QuotaMarker,
  type ReceivedMessage,
  type RecipientQueue,
  type SendOptions,
} from "./queues.js";
export {
  createContactAddress,
  createInvitation,
  deleteLinkData,
  getLinkData,
  secureInvitationLink,
  setLinkData,
  setRecipientKeys,
  shortLinkFor,
  type ContactAddress,
  type CreateLinkOptions,
  type Invitation,
  type LinkBlobs,
  type LinkData,
  type LinkTarget,
  type ShortLinkOptions,
} from "./links.js";
export { clientSenderId, contactLinkId } from "../crypto/linkIds.js";
export type { WebSocketConstructor, WebSocketLike } from "./socket.js";
export { ServerIdentityError, type VerifiedServer } from "./verifyServer.js";
export { formatAddress, parseAddress, type RelayAddress } from "../protocol/address.js";
export type { QueueMode } from "../protocol/commands.js";
export {
  formatShortLink,
  LINK_ID_LENGTH,
  LINK_KEY_LENGTH,
  parseShortLink,
  relayLinkServer,
  ShortLinkError,
  type ContactLinkType,
  type ShortLink,
  type ShortLinkScheme,
  type ShortLinkServer,
} from "../protocol/shortLink.js";
export { generateX25519, type X25519KeyPair } from "../crypto/x25519.js";
export { secretboxBackend } from "../crypto/secretboxBackend.js";
export { useLibsodium, type SodiumFactory, type SodiumSource } from "../crypto/sodium.js";
