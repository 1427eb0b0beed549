/** Bumped whenever a message's shape changes; both ends check it. */
export const PROTOCOL_VERSION = 4;

/** The lab's own version, recorded in every run. */
export const LAB_VERSION = '0.1.0';
