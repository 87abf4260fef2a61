// The backbone's rewriting skill, per problem family and input style: greedy rewrites of solutions
// rendered in a style, gated by the world's full gate (answer and steps). It shows whether the skill
// transfers to the downstream schema before any RL (a world whose skill is bound to its pretraining
// schemas starts the rewriter near zero). Not part of npm test.
//   npx tsx scripts/rewrite-skill.ts --backbone <model dir> [--n 60] [--seed 0]
import { parseArgs } from 'node:util';
import { loadHFModel } from '../engine/model';
import { GenerateProgram } from '../engine/programs';
import { Runner } from '../engine/runner';
import { gate } from '../method/gate';
import { FOREIGN, OWN, render, styleByName } from '../world/styles';
import { distinct, makeWorld, rewritePrompt } from '../world/world';

const { values: a } = parseArgs({
  options: {
    backbone: { type: 'string' },
    n: { type: 'string', default: '60' },
    seed: { type: 'string', default: '0' },
    styles: { type: 'string', default: `own,reversed,inline,${FOREIGN.name}` },
    show: { type: 'string', default: '0' },
  },
});
const model = await loadHFModel(a.backbone!);
const tok = model.tokenizer!;
const gen = await GenerateProgram.create(new Runner({}), model, { name: 'gen' });
const world = makeWorld(Number(a.seed));
const families = [world.rewriteOnly, world.downstream];
const styles = a.styles!.split(',').map(styleByName);
const gateConfig = { extractor: { kind: 'boxed' as const }, checks: ['answer', 'steps'] as ('answer' | 'steps')[] };
console.log('| family | input style | full pass | answer only |\n| --- | --- | ---: | ---: |');
for (const family of families) {
  const problems = distinct(family, 'train', Number(a.n), 11);
  for (const style of styles) {
    let full = 0;
    let answer = 0;
    let shown = 0;
    for (let i = 0; i < problems.length; i += 32) {
      const batch = problems.slice(i, i + 32);
      const out = await gen.generate(
        batch.map((p) => ({ id: p.id, prompt: tok.encode(rewritePrompt(p.question, render(p.trace, style))) })),
        { maxNewTokens: 96, temperature: 0 },
      );
      out.forEach((o, j) => {
        const v = gate(o.text, render(batch[j].trace, OWN), gateConfig);
        full += Number(v.pass);
        if (!v.pass && shown++ < Number(a.show))
          console.log(
            `  ${family.name}/${style.name}: ${JSON.stringify(render(batch[j].trace, style))} -> ${JSON.stringify(o.text)}`,
          );
        answer += Number(v.answer);
      });
    }
    const pct = (x: number) => `${((100 * x) / problems.length).toFixed(1)}%`;
    console.log(`| ${family.name} | ${style.name} | ${pct(full)} | ${pct(answer)} |`);
  }
}
