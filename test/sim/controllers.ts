// The simulated cluster's controllers live in ./controllers/, one module per controller, each naming
// the upstream source it imitates; this file keeps the import path the rest of the simulator uses.
export * from './controllers/index.ts'
