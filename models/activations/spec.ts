// Which activation a layer uses, as data: parsed from the command line
// (`relu`, `leaky_relu:0.1`, `maxout:3`, `mfm:3/2`, `rrelu:0.125:0.333`), stored in
// run.json, shown in the UI. Each activation's facts are one entry of registry.ts; the layer
// itself is made by `createActivation` (index.ts).
export {
  ACTIVATION_NAMES,
  ActivationSpecError,
  channelFactor,
  formatActivation,
  inputChannels,
  LEAKY_RELU_DEFAULT_ALPHA,
  parseActivation,
  RRELU_DEFAULT_LOWER,
  RRELU_DEFAULT_UPPER,
  type ActivationName,
  type ActivationSpec,
} from './registry';
