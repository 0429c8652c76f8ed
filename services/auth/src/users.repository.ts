import type { ResultSetHeader, RowDataPacket } from 'mysql2/promise';
import { ConflictError } from '@mp3converter/errors';
import { databaseError, isDuplicateKey, type Pool } from './database.ts';

export interface User {
  id: number;
  email: string;
  passwordHash: string;
  isAdmin: boolean;
}

interface UserRow extends RowDataPacket {
  id: number;
  email: string;
  password_hash: string;
  is_admin: number;
}

/** The key an email is unique and looked up by: letter case never matters. */
export function emailKey(email: string): string {
  return email.toLowerCase();
}

export class UsersRepository {
  private readonly pool: Pool;

  constructor(pool: Pool) {
    this.pool = pool;
  }

  async findByEmail(email: string): Promise<User | undefined> {
    try {
      const [rows] = await this.pool.execute<UserRow[]>(
        'SELECT id, email, password_hash, is_admin FROM users WHERE email_key = ?',
        [emailKey(email)],
      );
      const row = rows[0];
      return row === undefined
        ? undefined
        : {
            id: row.id,
            email: row.email,
            passwordHash: row.password_hash,
            isAdmin: row.is_admin === 1,
          };
    } catch (error) {
      throw databaseError(error);
    }
  }

  /** Creates a user; a taken email (in any letter case) is a ConflictError. */
  async create(user: Omit<User, 'id'>): Promise<User> {
    try {
      const [result] = await this.pool.execute<ResultSetHeader>(
        'INSERT INTO users (email, email_key, password_hash, is_admin) VALUES (?, ?, ?, ?)',
        [user.email, emailKey(user.email), user.passwordHash, user.isAdmin],
      );
      return { ...user, id: result.insertId };
    } catch (error) {
      if (isDuplicateKey(error)) {
        throw new ConflictError('EMAIL_TAKEN', 'an account with this email already exists', {
          cause: error,
        });
      }
      throw databaseError(error);
    }
  }
}
