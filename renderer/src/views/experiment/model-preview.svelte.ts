// The model the edited config would build, as the trainer describes it (describeModel):
// asked again a moment after the config stops changing, and only the newest answer kept.
import { DESCRIBE_IDENTITIES, type ModelDescription } from '#protocol/workbench';
import type { LabClient } from '#protocol/client/lab-client';
import type { ConfigIssue } from '#protocol/train-config';
import { cleanConfig } from './config-fields';

export const DESCRIBE_DELAY_MS = 300;

export class ModelPreview {
  /** The last model described (kept while a newer config is refused, so the layer list stays usable). */
  description = $state<ModelDescription | null>(null);
  /** Why the trainer refused the newest config ('' when it did not). */
  error = $state('');
  /** The refusal's problems by field, when the trainer named them (a reply's `issues`). */
  issues = $state<ConfigIssue[]>([]);
  loading = $state(false);
  private asked = 0;
  private lastKey = '';

  /** The describeModel command for a config ('data' filled in when the config has none yet: it only names the dataset). */
  static command(config: Record<string, unknown>, identities: number) {
    return {
      name: 'describeModel' as const,
      config: { data: 'synthetic', ...cleanConfig(config) },
      identities: Math.min(DESCRIBE_IDENTITIES.max, Math.max(DESCRIBE_IDENTITIES.min, Math.round(identities))),
    };
  }

  async describe(client: LabClient, config: Record<string, unknown>, identities: number): Promise<void> {
    const command = ModelPreview.command(config, identities);
    const key = JSON.stringify(command);
    if (key === this.lastKey) return;
    this.lastKey = key;
    const ticket = ++this.asked;
    this.loading = true;
    try {
      const description = await client.request(command);
      if (ticket !== this.asked) return;
      this.description = description;
      this.error = '';
      this.issues = [];
    } catch (error) {
      if (ticket !== this.asked) return;
      this.error = (error as Error).message;
      this.issues = [...((error as { issues?: readonly ConfigIssue[] }).issues ?? [])];
      // Ask again next time even for the same config (the trainer may have been busy or restarted).
      this.lastKey = '';
    } finally {
      if (ticket === this.asked) this.loading = false;
    }
  }
}
