// Adam in the training-step graph: two slot variables (m, v) and one fused ResourceApplyAdam per
// model variable, and the init op that sets the weights from feeds and zeroes the slots.
import { F, type Graph, T } from './graph-builder.ts';
import type { Variable } from './layers.ts';

export interface AdamFeeds {
  lr: string;
  beta1Power: string;
  beta2Power: string;
  /** ε as ResourceApplyAdam adds it (see TrainGraph.feeds.epsilon). */
  epsilon: string;
}

export interface AdamOps {
  /** One ResourceApplyAdam per model variable: what a training step runs after the gradients. */
  applies: string[];
  /** Runs the assignments (weights from `initFeeds`, Adam slots zeroed). */
  init: string;
  /** One placeholder per model variable, its initial value. */
  initFeeds: string[];
}

/**
 * Appends Adam for `modelVars` (each with its gradient set by the backward pass). `variable` makes
 * a new resource variable of a shape, as the caller made the model's.
 */
export function addAdam(
  g: Graph,
  modelVars: readonly Variable[],
  shapes: readonly number[][],
  variable: (name: string, shape: number[]) => Variable,
  feeds: AdamFeeds,
  opts: { beta1?: number; beta2?: number } = {},
): AdamOps {
  const b1 = g.constFloat('adam/beta1', opts.beta1 ?? 0.9);
  const b2 = g.constFloat('adam/beta2', opts.beta2 ?? 0.999);
  const applies: string[] = [];
  const inits: string[] = [];
  const initFeeds: string[] = [];
  for (const [i, v] of modelVars.entries()) {
    if (!v.grad) throw new Error(`no gradient for variable ${v.handle}`);
    const m = variable(`${v.handle}/adam_m`, shapes[i]);
    const s = variable(`${v.handle}/adam_v`, shapes[i]);
    applies.push(
      g.op(
        `${v.handle}/apply`,
        'ResourceApplyAdam',
        [v.handle, m.handle, s.handle, feeds.beta1Power, feeds.beta2Power, feeds.lr, b1, b2, feeds.epsilon, v.grad],
        {
          ...T,
          use_locking: { b: false },
          use_nesterov: { b: false },
        },
      ),
    );
    const value = g.placeholder(`init/${i}`, F, shapes[i]);
    initFeeds.push(value);
    const zeros = g.op(`init/${i}/zeros`, 'ZerosLike', [value], T);
    const assign = (target: string, from: string) =>
      g.op(`${target}/assign`, 'AssignVariableOp', [target, from], {
        dtype: { type: F },
        validate_shape: { b: false },
      });
    inits.push(assign(v.handle, value), assign(m.handle, zeros), assign(s.handle, zeros));
  }
  const init = g.op(
    'init/done',
    'Const',
    inits.map((a) => `^${a}`),
    {
      dtype: { type: F },
      value: { tensor: { dtype: F, shape: [], values: [1] } },
    },
  );
  return { applies, init, initFeeds };
}
