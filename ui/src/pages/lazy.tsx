/**
 * A page whose code loads when it is first opened (a dynamic import: a chunk
 * of its own, out of the main bundle every visitor downloads). Until it has
 * arrived the page says it is loading — never a blank screen; if it cannot be
 * loaded (the network failed), the error reaches the page's guard in app.tsx,
 * which names it and offers to try again.
 */
import type { ComponentType } from 'preact';
import { useEffect, useState } from 'preact/hooks';

export function lazyComponent(load: () => Promise<ComponentType>): ComponentType {
  let loaded: ComponentType | null = null;
  let loading: Promise<ComponentType> | null = null;
  return function LazyPage() {
    const [, arrived] = useState(0);
    const [failure, setFailure] = useState<unknown>(null);
    useEffect(() => {
      if (loaded) return;
      loading ??= load().then((component) => {
        loaded = component;
        return component;
      });
      loading.then(
        () => arrived((n) => n + 1),
        (err: unknown) => {
          loading = null; // the next attempt loads again
          setFailure(err);
        },
      );
    }, []);
    if (failure) throw failure instanceof Error ? failure : new Error(String(failure));
    if (!loaded) {
      return (
        <div class="page">
          <p class="muted" role="status" data-testid="page-loading">
            Loading…
          </p>
        </div>
      );
    }
    const Component = loaded;
    return <Component />;
  };
}
