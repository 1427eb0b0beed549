// The initialisation schemes by name, without tfjs: what the config, the command line and the
// Experiment view offer. initializers.ts makes them real.
export const INITIALIZERS = ['pytorch', 'he', 'glorot'] as const;
export type InitializerName = (typeof INITIALIZERS)[number];
export const DEFAULT_INITIALIZER: InitializerName = 'pytorch';

export const INITIALIZER_DESCRIPTIONS: Readonly<Record<InitializerName, string>> = {
  pytorch: "PyTorch's default, as the reference trains: weights and biases uniform in ±1/√fan_in",
  he: "He-normal weights (std √(2/fan_in)) before rectifier-type and max activations, Glorot before sigmoid, tanh and the classifier, LeCun before SELU; zero biases (the lab's earlier default)",
  glorot: 'Glorot-uniform weights (limit √(6/(fan_in+fan_out))), zero biases',
};

export function isInitializerName(name: string): name is InitializerName {
  return (INITIALIZERS as readonly string[]).includes(name);
}
