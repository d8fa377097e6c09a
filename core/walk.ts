/** The regular files under a folder, recursively; an unreadable folder contributes nothing. */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

export function filesUnder(dir: string, options: { maxDepth?: number; skipHidden?: boolean } = {}): string[] {
  const files: string[] = [];
  const walk = (folder: string, depth: number): void => {
    let entries;
    try {
      entries = readdirSync(folder, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) {
      if (options.skipHidden && entry.name.startsWith('.')) continue;
      const path = join(folder, entry.name);
      if (entry.isDirectory()) {
        if (depth < (options.maxDepth ?? Infinity)) walk(path, depth + 1);
      } else if (entry.isFile()) files.push(path);
    }
  };
  walk(dir, 0);
  return files;
}
