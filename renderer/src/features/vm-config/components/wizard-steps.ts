/** The wizard's steps, and which form fields each one owns (for gating Next). */
export interface WizardStep {
  id: string;
  title: string;
  /** Whether a field key (`cpus`, `portForwards.0.hostPort`) belongs to this step. */
  owns(field: string): boolean;
}

const fields =
  (...names: string[]) =>
  (field: string) =>
    names.some((name) => field === name || field.startsWith(`${name}.`));

export const wizardSteps: readonly WizardStep[] = [
  { id: 'general', title: 'Name and guest', owns: fields('name', 'notes') },
  { id: 'boot', title: 'Boot', owns: fields('kernel', 'initrd', 'cmdline') },
  { id: 'resources', title: 'Processors and memory', owns: fields('cpus', 'memoryMiB') },
  { id: 'disk', title: 'Disk', owns: fields('newDiskSize', 'existingDiskPath') },
  { id: 'network', title: 'Network', owns: fields('portForwards') },
  { id: 'display', title: 'Display', owns: fields('displayWidth', 'displayHeight') },
  { id: 'review', title: 'Review', owns: () => false },
];

export function stepOfField(field: string): number {
  const index = wizardSteps.findIndex((step) => step.owns(field));
  return index < 0 ? wizardSteps.length - 1 : index;
}
