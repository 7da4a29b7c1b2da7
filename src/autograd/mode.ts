/** Whether ops record the graph. Off inside noGrad (inference, optimizer updates, backward itself). */
let enabled = true;

export function isGradEnabled(): boolean {
  return enabled;
}

function withMode<T>(mode: boolean, fn: () => T): T {
  const previous = enabled;
  enabled = mode;
  try {
    return fn();
  } finally {
    enabled = previous;
  }
}

export function noGrad<T>(fn: () => T): T {
  return withMode(false, fn);
}

export function enableGrad<T>(fn: () => T): T {
  return withMode(true, fn);
}
