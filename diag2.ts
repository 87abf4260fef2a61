import { loadHFModel } from './engine/model';
import { GenerateProgram } from './engine/programs';
import { Runner } from './engine/runner';
import { gateVerdict } from './method/gate';
import { makeWorld, distinct, rewritePrompt } from './world/world';
import { render } from './world/styles';
import { STYLES, FOREIGN } from './world/styles';
const [dir, fam] = process.argv.slice(2);
const model = await loadHFModel(dir);
const tok = model.tokenizer!;
const world = makeWorld(0);
const family = fam === 'shop' ? world.downstream : fam === 'story' ? world.rewriteOnly : world.prior.find((f) => f.name === fam)!;
const probs = distinct(family, 'train', 60, 7);
const runner = new Runner({});
const gen = await GenerateProgram.create(runner, model, { name: 'g' });
for (const style of STYLES.filter((s) => (process.argv[4] ?? 'own,inline,reversed,foreign').split(',').includes(s.name))) {
  const reqs = probs.map((p) => ({ id: p.id, prompt: tok.encode(rewritePrompt(p.question, render(p.trace, style))) }));
  const out = await gen.generate(reqs, { maxNewTokens: 96, temperature: 0 });
  let full = 0, ans = 0;
  out.forEach((g, i) => {
    const v = gateVerdict(g.text, render(probs[i].trace, FOREIGN), { extractor: { kind: 'boxed', choices: 'ABCDE' }, checks: ['answer', 'steps'] });
    full += +v.full; ans += +v.answer;
  });
  console.log(`${fam} ${style.name.padEnd(18)} full ${(100 * full / out.length).toFixed(0)}% answer ${(100 * ans / out.length).toFixed(0)}%`);
}
await runner.close();
