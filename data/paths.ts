// Where data sets live on disk: Debian's dataset-fashion-mnist, or the folder FASHION_MNIST_DIR names.
// Read by the CLI and by the page's server (which serves these files to the tab).
const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env ?? {};

export const FASHION_MNIST_DIR = env.FASHION_MNIST_DIR ?? '/usr/share/datasets/fashion-mnist';
