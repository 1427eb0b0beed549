// The trainer's parent port: what main (electron/main/trainer-process.ts, gpu-host.ts) and
// the trainer under Electron's utilityProcess (electron/trainer/index.ts, fatal-report.ts,
// gpu-host/host-link.ts) say to each other, in both directions.
//
//   main → trainer   connect (a window's MessagePort rides along as the first transferred
//                    port), grant (grants.ts), shutdown, and the GPU host's answers (gpu-host.ts)
//   trainer → main   ready, error (it refused a message from main), fatal (its last words),
//                    and the GPU host's requests (gpu-host.ts)
//
// Main is trusted but checked all the same: a malformed message is a bug in the app, and the
// trainer says which field was wrong rather than acting on it. The GPU host's messages keep
// their own readers (gpu-host.ts); their types join the unions here.
//
// zod and other protocol files only: no node: modules (main, the trainer and the renderer's
// bundle reach this folder).
import { z } from 'zod';
import type { MainGpuMessage, TrainerGpuRequest } from './gpu-host';
import { grantMessageSchema } from './grants';

// ---------------------------------------------------------------------------
// Main → trainer

/** A window wants a connection: the port to serve it on is the message's first transferred port. */
export const connectMessageSchema = z.object({ type: z.literal('connect') });
/** Stop the run with a checkpoint, then exit (the app is quitting). */
export const shutdownMessageSchema = z.object({ type: z.literal('shutdown') });

/** Main's messages to the trainer other than the GPU host's answers (gpu-host.ts reads those). */
export const mainMessageSchema = z.discriminatedUnion('type', [connectMessageSchema, grantMessageSchema, shutdownMessageSchema]);
export type MainMessage = z.infer<typeof mainMessageSchema>;
export type ConnectMessage = z.infer<typeof connectMessageSchema>;
export type ShutdownMessage = z.infer<typeof shutdownMessageSchema>;

/** Everything main posts to the trainer. */
export type MainToTrainer = MainMessage | MainGpuMessage;

// ---------------------------------------------------------------------------
// Trainer → main

/** The trainer started and listens (its pid, as main's utilityProcess knows it). */
export const readyMessageSchema = z.object({ type: z.literal('ready'), pid: z.number().int().nonnegative() });
/** The trainer refused a message from main, and why: a bug in main, logged there. */
export const refusedMessageSchema = z.object({ type: z.literal('error'), message: z.string() });

export const fatalKindSchema = z.enum(['uncaughtException', 'unhandledRejection']);
export type FatalKind = z.infer<typeof fatalKindSchema>;
/**
 * An error nothing handled, sent before the trainer exits. `code` and `path` are a system
 * error's (ENOSPC, EACCES... and the file it was about), when the error had them. Main reads it
 * leniently (electron/main/crash-report.ts: it truncates and never refuses a dying report).
 */
export const fatalMessageSchema = z.object({
  type: z.literal('fatal'),
  kind: fatalKindSchema,
  message: z.string(),
  code: z.string().optional(),
  path: z.string().optional(),
});

/** The trainer's messages to main other than the GPU host's requests (gpu-host.ts reads those). */
export const trainerMessageSchema = z.discriminatedUnion('type', [readyMessageSchema, refusedMessageSchema, fatalMessageSchema]);
export type TrainerMessage = z.infer<typeof trainerMessageSchema>;
export type ReadyMessage = z.infer<typeof readyMessageSchema>;
export type RefusedMessage = z.infer<typeof refusedMessageSchema>;
export type FatalMessage = z.infer<typeof fatalMessageSchema>;

/** Everything the trainer posts to main. */
export type TrainerToMain = TrainerMessage | TrainerGpuRequest;

// ---------------------------------------------------------------------------
// Reading

export type ParentPortParse<T> = { readonly ok: true; readonly message: T } | { readonly ok: false; readonly error: string };

const MAIN_TYPES = mainMessageSchema.options.map((option) => option.shape.type.value);

/**
 * Main's message (not a GPU host answer: those go to gpu-host.ts first), or what is wrong with
 * it, naming the field. `hasPort`: whether a port came with it (a connect needs one).
 */
export function parseMainMessage(data: unknown, hasPort: boolean): ParentPortParse<MainMessage> {
  const type = (data as { type?: unknown } | null)?.type;
  if (typeof type !== 'string' || !(MAIN_TYPES as readonly string[]).includes(type)) {
    return {
      ok: false,
      error: `type: the trainer's parent may only send {type: 'connect'} with a MessagePort, {type: 'grant'}, {type: 'shutdown'} or a GPU host answer, got ${typeof type === 'string' ? JSON.stringify(type) : String(type)}`,
    };
  }
  const parsed = mainMessageSchema.safeParse(data);
  if (!parsed.success) return { ok: false, error: `bad ${type} from main: ${issuesText(parsed.error)}` };
  if (parsed.data.type === 'connect' && !hasPort) return { ok: false, error: 'bad connect from main: it carries no MessagePort' };
  return { ok: true, message: parsed.data };
}

/** The trainer's message (not a GPU host request: gpu-host.ts reads those), or what is wrong with it. */
export function parseTrainerMessage(data: unknown): ParentPortParse<TrainerMessage> {
  const parsed = trainerMessageSchema.safeParse(data);
  return parsed.success ? { ok: true, message: parsed.data } : { ok: false, error: issuesText(parsed.error) };
}

/** "field: what is wrong" for each issue, the field as a dotted path. */
function issuesText(error: z.ZodError): string {
  return error.issues.map((issue) => `${issue.path.length > 0 ? issue.path.map(String).join('.') : 'message'}: ${issue.message}`).join('; ');
}
