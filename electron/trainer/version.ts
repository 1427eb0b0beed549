/** Bumped whenever a message's shape changes; both ends check it. */
export const PROTOCOL_VERSION = 1;
