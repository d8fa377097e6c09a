/**
 * Readable names derived from a run key (`brave-otter`): for people and SLURM job names. They
 * are not unique on their own; the key prefix that accompanies them is.
 */
const ADJECTIVES = (
  'able agile amber ample azure bold brave brisk bright calm candid civil clever cosmic crisp curious ' +
  'daring deft eager early earnest easy elated epic exact fair fancy fast fierce fine firm fleet ' +
  'fluent frank free fresh gentle gifted glad golden grand great green happy hardy hearty honest humble ' +
  'ideal jolly jovial keen kind lively loyal lucid lucky mellow merry mighty modest neat nimble noble ' +
  'novel open patient placid plucky polite precise proud quick quiet radiant rapid ready regal robust rosy ' +
  'rugged safe sage scenic serene sharp shiny silent silver simple sleek smart snowy solid sonic spry ' +
  'steady stellar stoic sturdy sunny super swift tidy tough tranquil true trusty upbeat urban valiant vast ' +
  'vivid warm wise witty young zany zealous zesty'
).split(' ');

const NOUNS = (
  'acorn albatross alpaca anchor antelope aspen badger beacon beaver birch bison bobcat canyon cedar cheetah comet ' +
  'condor coral cougar coyote crane cricket dolphin dove eagle egret falcon ferret finch fjord fox gazelle ' +
  'gecko glacier goose grouse harbor hare hawk heron ibex iguana jackal jaguar kestrel koala lagoon lark ' +
  'lemur leopard lynx magpie mallard maple marmot marten meadow meerkat mesa mink moose narwhal newt ocelot ' +
  'orca osprey otter owl panda panther parrot pelican penguin petrel pike plover puffin quail quokka raven ' +
  'reef robin salmon sequoia shark sparrow spruce squid stork swallow swan tapir tern thrush tiger toucan ' +
  'trout tundra turtle urchin viper walrus warbler weasel whale willow wolf wombat wren yak zebra'
).split(' ');

/** Two bytes of the key pick the adjective, two more the noun. */
export function readableName(key: string): string {
  const a = parseInt(key.slice(0, 4), 16) % ADJECTIVES.length;
  const n = parseInt(key.slice(4, 8), 16) % NOUNS.length;
  return `${ADJECTIVES[a]}-${NOUNS[n]}`;
}
