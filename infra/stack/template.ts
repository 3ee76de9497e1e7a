import { readFileSync } from 'node:fs';
import { StackError } from './errors.ts';

/**
 * Fills `{{NAME}}` placeholders in a config template under infra/. A placeholder left unfilled
 * would reach the service as literal text and fail far from here, so it fails now instead.
 */
export function renderTemplate(templateFile: string, values: Readonly<Record<string, string | number>>): string {
  const template = readFileSync(templateFile, 'utf8');
  return template.replace(/\{\{([A-Z0-9_]+)\}\}/g, (placeholder, name: string) => {
    const value = values[name];
    if (value === undefined) {
      throw new StackError(
        'STACK_CONFIG_INVALID',
        `${templateFile} uses ${placeholder}, which the stack does not provide`,
      );
    }
    return String(value);
  });
}
